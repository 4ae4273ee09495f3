//! The test harness: a real MariaDB or MySQL server, one fresh database per test, the
//! fixture data with its independently computed answer, and a builder for running the
//! `seqfix` binary.
//!
//! With `SEQFIX_TEST_DATABASE_URL` set (a user that may create databases), tests use that
//! server. Otherwise the harness starts a private, throw-away server once per test binary,
//! in a directory of its own, on its own port and socket: `mariadbd` by default, or with
//! `SEQFIX_TEST_SERVER=mysql` Oracle MySQL's `mysqld`, run inside the Debian root that
//! `scripts/mysql-server.sh` builds (`SEQFIX_MYSQL_ROOT`, default `target/mysql-root`). The server
//! never outlives the tests: it gets SIGKILL when the test process exits (Linux parent-death
//! signal, armed from a thread that lives as long as the process) and its stdio is
//! /dev/null, so it can never hold the test runner's output pipe open.
#![allow(dead_code)]

pub mod cluster;
pub mod tls;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};
use seqfix_fixture::messages::{self as fixture, Message, Spec};

/// The admin user the harness creates on its private servers.
pub const TEST_USER: &str = "seqfix_test";
pub const TEST_PASSWORD: &str = "t3st-p@ss";

/// The user tests connect as to create databases and users: `TEST_USER` on a private
/// server, the user of `SEQFIX_TEST_DATABASE_URL` otherwise.
pub fn admin_user() -> String {
    match external_url() {
        Some(opts) => opts.get_user().unwrap_or("root").to_string(),
        None => TEST_USER.to_string(),
    }
}

/// The password of `admin_user`.
pub fn admin_password() -> String {
    match external_url() {
        Some(opts) => opts.get_pass().unwrap_or("").to_string(),
        None => TEST_PASSWORD.to_string(),
    }
}

fn external_url() -> Option<Opts> {
    let url = std::env::var("SEQFIX_TEST_DATABASE_URL").ok()?;
    Some(Opts::from_url(&url).expect("SEQFIX_TEST_DATABASE_URL is not a valid mysql:// URL"))
}

/// Which server program the harness starts for its private servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `mariadbd` from this machine (package mariadb-server).
    MariaDb,
    /// Oracle MySQL's `mysqld`, run with `chroot` inside a Debian root (scripts/mysql-server.sh).
    MySql { root: PathBuf },
}

/// The private servers' program, from `SEQFIX_TEST_SERVER` (`mariadb`, the default, or `mysql`).
pub fn program() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| match std::env::var("SEQFIX_TEST_SERVER").as_deref() {
        Ok("mysql") => {
            let root = std::env::var_os("SEQFIX_MYSQL_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mysql-root"));
            assert!(
                root.join("usr/sbin/mysqld").is_file(),
                "SEQFIX_TEST_SERVER=mysql but there is no MySQL server in {}: build it with scripts/mysql-server.sh \
                 (or set SEQFIX_MYSQL_ROOT to such a root)",
                root.display()
            );
            assert!(is_root(), "SEQFIX_TEST_SERVER=mysql runs mysqld with chroot, which needs root");
            Program::MySql { root }
        }
        Ok("mariadb") | Err(_) => Program::MariaDb,
        Ok(other) => panic!("SEQFIX_TEST_SERVER={other:?}: expected mariadb or mysql"),
    })
}

/// The flavour of a server, asked of the server itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    pub fn of(conn: &mut Conn) -> Flavor {
        let version: String = conn.query_first("SELECT VERSION()").unwrap().unwrap();
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// What `seqfix status` reports as the flavour.
    /// The table listing connections (MySQL deprecates information_schema's).
    pub fn processlist(self) -> &'static str {
        match self {
            Flavor::MariaDb => "information_schema.PROCESSLIST",
            Flavor::MySql => "performance_schema.processlist",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
        }
    }
}

/// A running server the tests may use.
pub struct Server {
    pub host: String,
    pub port: u16,
    /// URL of a user allowed to create databases, without a database part.
    admin_url: String,
    private: Option<Private>,
}

/// What we own when we started the server ourselves.
struct Private {
    dir: PathBuf,
    child: Option<Child>,
    extra_args: Vec<String>,
    /// The system user the server runs as when the tests run as root (default root).
    user: Option<String>,
    /// The server process's time zone (its SYSTEM zone), e.g. Europe/Berlin.
    tz: Option<String>,
}

static SHARED: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// A single installed data directory, copied for each private server.
static TEMPLATE: Mutex<Option<PathBuf>> = Mutex::new(None);

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path.split(':').map(PathBuf::from).chain(
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"].map(PathBuf::from),
    );
    let dirs: Vec<PathBuf> = dirs.collect();
    for n in names {
        for d in &dirs {
            let p = d.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn server_binaries() -> (PathBuf, PathBuf) {
    let server = which(&["mariadbd", "mysqld"]);
    let install = which(&["mariadb-install-db", "mysql_install_db"]);
    match (server, install) {
        (Some(s), Some(i)) => (s, i),
        _ => panic!(
            "no MariaDB server binaries found (mariadbd and mariadb-install-db): install them with \
             `sudo apt-get install -y mariadb-server` (scripts/test.sh does this), or set \
             SEQFIX_TEST_DATABASE_URL=mysql://user:password@host:port/ to use a server where that user may create databases"
        ),
    }
}

/// Where private servers keep their files. MySQL's must be inside its root, where the
/// chroot'ed `mysqld` sees them (at `inside`).
fn base_dir() -> PathBuf {
    let d = match program() {
        Program::MariaDb => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("seqfix-test-servers"),
        Program::MySql { root } => root.join("srv/seqfix-test-servers"),
    };
    std::fs::create_dir_all(&d).unwrap();
    // Remove directories left by test processes that no longer exist.
    if let Ok(entries) = std::fs::read_dir(&d) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.split('-').next().and_then(|p| p.parse::<i32>().ok()) {
                if pid != std::process::id() as i32 && unsafe { libc::kill(pid, 0) } != 0 {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    d
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A path of the host as the server program sees it (inside the MySQL root).
fn inside(path: &Path) -> PathBuf {
    match program() {
        Program::MariaDb => path.to_path_buf(),
        Program::MySql { root } => Path::new("/").join(path.strip_prefix(root).expect("a path inside the MySQL root")),
    }
}

/// Installs a data directory once per test process; later servers copy it.
fn template_dir() -> PathBuf {
    let mut t = TEMPLATE.lock().unwrap();
    if let Some(p) = t.as_ref() {
        return p.clone();
    }
    let dir = base_dir().join(format!("{}-template", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Program::MySql { root } = program() {
        // mysqld --initialize wants a directory that does not exist yet, or is empty.
        let out = Command::new("chroot")
            .arg(root)
            .arg("/usr/sbin/mysqld")
            .arg("--no-defaults")
            .arg("--initialize-insecure")
            .arg("--user=root")
            .arg(format!("--datadir={}", inside(&dir).display()))
            .stdin(Stdio::null())
            .output()
            .expect("run mysqld --initialize-insecure in the MySQL root");
        assert!(
            out.status.success(),
            "mysqld --initialize-insecure failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Each copy must get its own server UUID (replication refuses equal ones): mysqld
        // writes a new auto.cnf when it finds none.
        let _ = std::fs::remove_file(dir.join("auto.cnf"));
        *t = Some(dir.clone());
        return dir;
    }
    let (_, install) = server_binaries();
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(&install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().expect("run mariadb-install-db");
    assert!(out.status.success(), "mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
    *t = Some(dir.clone());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(st.success(), "copying the template data directory failed");
}

/// Options for a private server.
#[derive(Default, Clone)]
pub struct ServerOpts {
    /// Extra `mariadbd` arguments, e.g. `--log-bin`, `--server-id=2`.
    pub args: Vec<String>,
}

impl Server {
    /// The server shared by every test of this process.
    pub fn shared() -> &'static Server {
        SHARED.get_or_init(|| {
            if let Ok(url) = std::env::var("SEQFIX_TEST_DATABASE_URL") {
                let opts = Opts::from_url(&url).expect("SEQFIX_TEST_DATABASE_URL is not a valid mysql:// URL");
                let host = opts.get_ip_or_hostname().to_string();
                let port = opts.get_tcp_port();
                let base = url.split('/').take(3).collect::<Vec<_>>().join("/");
                return Server { host, port, admin_url: format!("{base}/"), private: None };
            }
            Server::start_lasting(ServerOpts { args: vec!["--log-bin=binlog".into(), "--server-id=1".into()] })
        })
    }

    /// `start`, from a thread that lives as long as the process, for a server that tests
    /// share (kept in a static): the parent-death signal fires when the *thread* that forked
    /// the server exits, so a server started by one test's thread dies with that test.
    pub fn start_lasting(opts: ServerOpts) -> Server {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("seqfix-test-server".into())
            .spawn(move || {
                tx.send(Server::start(opts)).unwrap();
                loop {
                    std::thread::park();
                }
            })
            .unwrap();
        rx.recv().expect("starting a test server (its thread panicked: see above)")
    }

    /// Starts a private server (for tests that kill or reconfigure it). It is killed when
    /// dropped, or when the thread that started it ends.
    pub fn start(opts: ServerOpts) -> Server {
        Server::start_in_zone(opts, None)
    }

    /// `start`, with the server's SYSTEM time zone set to `tz` (the `TZ` of its process).
    pub fn start_in_zone(opts: ServerOpts, tz: Option<&str>) -> Server {
        Server::start_with(opts, tz, None)
    }

    /// `start`, running the server as system user `user` when the tests run as root, its
    /// directory owned by that user. A Galera node must not run as root: rsync SST's daemon
    /// drops to `nobody`, and the SST scripts run as the server's user.
    pub fn start_as(opts: ServerOpts, user: &str) -> Server {
        Server::start_with(opts, None, Some(user))
    }

    fn start_with(opts: ServerOpts, tz: Option<&str>, user: Option<&str>) -> Server {
        let template = template_dir();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = base_dir().join(format!("{}-server-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        copy_dir(&template, &dir.join("data"));
        let mut server = Server {
            host: "127.0.0.1".into(),
            port: 0,
            admin_url: String::new(),
            private: Some(Private {
                dir,
                child: None,
                extra_args: opts.args,
                user: user.map(str::to_string),
                tz: tz.map(str::to_string),
            }),
        };
        server.boot(true);
        server
    }

    fn boot(&mut self, first: bool) {
        for attempt in 0..3 {
            let port = if first || self.port == 0 { free_port() } else { self.port };
            let p = self.private.as_mut().unwrap();
            let dir = p.dir.clone();
            // The server's own directory for on-disk temporary tables. A starting mariadbd
            // deletes every `#sql*` file in its tmpdir (a crash's leftovers), so with a shared
            // /tmp each private server that started deleted the running servers' temporary
            // tables under their queries: the query failed, or the server crashed (seen:
            // signal 11 dropping the Aria temporary table of an information_schema query).
            std::fs::create_dir_all(dir.join("tmp")).unwrap();
            let mut cmd = match program() {
                Program::MariaDb => Command::new(server_binaries().0),
                Program::MySql { root } => {
                    let mut c = Command::new("chroot");
                    c.arg(root).arg("/usr/sbin/mysqld");
                    c
                }
            };
            let at = |name: &str| inside(&dir.join(name)).display().to_string();
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", at("data")))
                .arg(format!("--tmpdir={}", at("tmp")))
                .arg(format!("--socket={}", at("sock")))
                .arg(format!("--pid-file={}", at("pid")))
                .arg(format!("--log-error={}", at("error.log")))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg("--skip-name-resolve")
                .arg("--innodb-buffer-pool-size=256M")
                .arg("--innodb-flush-log-at-trx-commit=2")
                .arg("--max-connections=500")
                .arg("--character-set-server=utf8mb4")
                .arg("--collation-server=utf8mb4_unicode_ci")
                .args(match program() {
                    // No X Protocol listener (it would want a port of its own); GTIDs on,
                    // as on the MySQL servers seqfix meets in production (and as Debian's
                    // MySQL 9 was measured to run), whatever this version's default.
                    Program::MySql { .. } => &["--mysqlx=OFF", "--gtid-mode=ON", "--enforce-gtid-consistency=ON"][..],
                    Program::MariaDb => &[],
                })
                .args(&p.extra_args)
                .envs(p.tz.iter().map(|tz| ("TZ", tz.as_str())))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if is_root() {
                match &p.user {
                    Some(user) => {
                        let st = Command::new("chown").arg("-R").arg(format!("{user}:")).arg(&dir).status().unwrap();
                        assert!(st.success(), "chown -R {user} {} failed", dir.display());
                        cmd.arg(format!("--user={user}"));
                    }
                    None => {
                        cmd.arg("--user=root");
                    }
                }
            }
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn().expect("start the private server");
            p.child = Some(child);
            self.port = port;
            // A joining Galera node opens its socket only after its state transfer, which on a
            // loaded machine takes longer than a plain start.
            let galera = p.extra_args.iter().any(|a| a == "--wsrep-on=ON");
            if self.wait_ready(Duration::from_secs(if galera { 240 } else { 60 })) {
                if first {
                    self.create_test_user();
                }
                self.admin_url = format!("mysql://{TEST_USER}:{}@127.0.0.1:{port}/", enc(TEST_PASSWORD));
                return;
            }
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            self.kill();
            if attempt == 2 {
                panic!(
                    "the private {:?} server did not start; its error log ends with:\n{}",
                    program(),
                    tail(&log, 30)
                );
            }
        }
    }

    /// The last `n` lines of a private server's error log.
    pub fn error_log_tail(&self, n: usize) -> String {
        let dir = &self.private.as_ref().expect("a private server").dir;
        tail(&std::fs::read_to_string(dir.join("error.log")).unwrap_or_default(), n)
    }

    fn socket(&self) -> PathBuf {
        self.private.as_ref().unwrap().dir.join("sock")
    }

    /// The server's root user over its Unix socket (private servers only), which both
    /// servers count as a secure transport: it works with --require-secure-transport too.
    pub fn socket_conn(&self) -> Conn {
        self.root_conn().expect("connect to the private server's socket as root")
    }

    fn root_conn(&self) -> mysql::Result<Conn> {
        Conn::new(
            OptsBuilder::new()
                .socket(Some(self.socket().to_string_lossy().to_string()))
                .prefer_socket(true)
                .user(Some("root")),
        )
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = self.private.as_mut().unwrap().child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if self.root_conn().is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn create_test_user(&self) {
        let mut c = self.root_conn().unwrap();
        // The binary log must not replay the harness's own users on a replica.
        c.query_drop("SET SESSION sql_log_bin = 0").unwrap();
        for stmt in [
            format!("CREATE USER IF NOT EXISTS '{TEST_USER}'@'%' IDENTIFIED BY '{TEST_PASSWORD}'"),
            format!("GRANT ALL PRIVILEGES ON *.* TO '{TEST_USER}'@'%' WITH GRANT OPTION"),
        ] {
            // A Galera node answers on its socket before it has joined its cluster, and refuses
            // statements until then (ERROR 1047 WSREP has not yet prepared node for application use).
            let start = Instant::now();
            loop {
                match c.query_drop(&stmt) {
                    Err(mysql::Error::MySqlError(e))
                        if e.code == 1047 && start.elapsed() < Duration::from_secs(120) =>
                    {
                        std::thread::sleep(Duration::from_millis(200))
                    }
                    done => break done.unwrap(),
                }
            }
        }
    }

    /// SIGKILL the server (private servers only).
    pub fn kill(&mut self) {
        if let Some(p) = self.private.as_mut() {
            if let Some(mut child) = p.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`) the server: a hung server that keeps its
    /// connections open (private servers only).
    pub fn freeze(&self, frozen: bool) {
        let child = self.private.as_ref().and_then(|p| p.child.as_ref()).expect("a running private server");
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill").arg(sig).arg(child.id().to_string()).status().unwrap().success();
        assert!(ok, "kill {sig} of the private server failed");
    }

    /// Start a killed private server again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.boot(false);
    }

    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The server's flavour, asked over the root's socket (works when TCP must be TLS).
    pub fn flavor_via_socket(&self) -> Flavor {
        Flavor::of(&mut self.socket_conn())
    }

    /// The server's flavour, asked of it.
    pub fn flavor(&self) -> Flavor {
        Flavor::of(&mut self.admin_conn())
    }

    /// Makes this server a replica of `source` (GTID-based), and starts replicating when
    /// `start`. The statements differ: MariaDB's `CHANGE MASTER TO`, MySQL's `CHANGE
    /// REPLICATION SOURCE TO` (MySQL 8.0.23+; `CHANGE MASTER` is gone in 8.4), which must
    /// fetch the source's RSA key to log in with caching_sha2_password without TLS.
    pub fn replicate_from(&self, source: &Server, start: bool) {
        let mut c = self.admin_conn();
        let (user, password) = (admin_user(), admin_password());
        let stmt = match self.flavor() {
            Flavor::MariaDb => format!(
                "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{user}', MASTER_PASSWORD='{password}', MASTER_USE_GTID=slave_pos",
                source.host, source.port
            ),
            Flavor::MySql => format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='{}', SOURCE_PORT={}, SOURCE_USER='{user}', SOURCE_PASSWORD='{password}', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
                source.host, source.port
            ),
        };
        c.query_drop(stmt).expect("configure replication");
        if start {
            // START REPLICA exists on both (MariaDB 10.5+, MySQL 8.0.22+).
            c.query_drop("START REPLICA").expect("START REPLICA");
        }
    }

    /// Stops or starts only the replica's SQL (applier) thread.
    pub fn replica_sql_thread(&self, run: bool) {
        let stmt = if run { "START REPLICA SQL_THREAD" } else { "STOP REPLICA SQL_THREAD" };
        self.admin_conn().query_drop(stmt).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }

    pub fn admin_conn(&self) -> Conn {
        Conn::new(Opts::from_url(&self.admin_url).unwrap()).expect("connect to the test server")
    }

    /// A fresh, empty database for one test.
    pub fn fresh_db(&self, label: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let clean: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(40).collect();
        let name = format!("t{}_{n}_{clean}", std::process::id());
        let mut c = self.admin_conn();
        c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).unwrap();
        c.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")).unwrap();
        TestDb { url: format!("{}{name}", self.admin_url), name, admin_url: self.admin_url.clone() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(p) = &self.private {
            let _ = std::fs::remove_dir_all(&p.dir);
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One hand-made sequence message: id, group (the step), status, created_at.
pub fn put(c: &mut Conn, id: &str, group: &str, status: Option<&str>, created: Option<&str>) {
    c.exec_drop(
        "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, \
         message_type, content, status, created_at) VALUES (?, 'u', 'dev', 'seq', ?, '60100000000', 'text', 'hello', ?, ?)",
        (id, format!("step-{group}"), status, created),
    )
    .unwrap();
}

/// The records of a `--plan-file`, once its header is checked to name the columns
/// docs/usage.md lists, in that order.
pub fn plan_file_records(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        [
            "victim_id",
            "kept_id",
            "sequence_stepid",
            "recipient_phone",
            "device_id",
            "rule",
            "kept_because",
            "kept_status",
            "victim_status"
        ]
    );
    reader.records().map(|r| r.unwrap()).collect()
}

/// Percent-encodes a URL component (user or password).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One test's database. Dropped at the end of a passing test; kept for inspection
/// when the test panicked.
pub struct TestDb {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDb {
    /// A fresh database on the shared server.
    pub fn new(label: &str) -> TestDb {
        Server::shared().fresh_db(label)
    }

    /// What a test that drives dedupe batches directly needs: a seqfix connection to this
    /// database, the description of `broadcast_messages`, and the archive table
    /// `seqfix_archive`, created.
    pub fn batch_setup(&self) -> (seqfix::db::Db, seqfix::schema::TableInfo, seqfix::ident::Ident) {
        let cfg = seqfix::config::DbConfig::from_url(&self.url, Duration::from_secs(5)).unwrap();
        let mut sdb = seqfix::db::connect(&cfg).unwrap();
        let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
        let archive = seqfix::ident::Ident::new("table", "seqfix_archive").unwrap();
        let info = seqfix::schema::describe(&mut sdb, &table).unwrap().unwrap();
        seqfix::archive::create(&mut sdb, &info, &archive).unwrap();
        (sdb, info, archive)
    }

    pub fn conn(&self) -> Conn {
        let mut c = Conn::new(Opts::from_url(&self.url).unwrap()).expect("connect to the test database");
        c.query_drop("SET time_zone = '+00:00'").unwrap();
        c
    }

    /// Creates the production-shaped fixture tables.
    pub fn create_schema(&self) {
        fixture::create_schema(&mut self.conn()).unwrap();
    }

    /// Creates the fixture tables and loads generated messages; returns exactly what was loaded.
    pub fn load_messages(&self, spec: &Spec) -> Vec<Message> {
        self.create_schema();
        let rows: Vec<Message> = fixture::generate(spec).collect();
        self.insert(&rows);
        rows
    }

    pub fn insert(&self, rows: &[Message]) {
        let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
        fixture::insert(&mut self.conn(), &table, rows.iter().cloned()).unwrap();
    }

    /// A URL for this database as another user.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let rest = self.url.split('@').nth(1).unwrap();
        format!("mysql://{}:{}@{rest}", enc(user), enc(password))
    }

    /// Creates a user with exactly `grants` on this database (e.g. "SELECT").
    pub fn user_with(&self, user: &str, password: &str, grants: &str) -> String {
        let mut c = self.conn();
        c.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'")).unwrap();
        c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")).unwrap();
        c.query_drop(format!("GRANT {grants} ON `{}`.* TO '{user}'@'%'", self.name)).unwrap();
        self.url_as(user, password)
    }

    /// Waits (at most a minute) until a running dedupe has archived more than `n` rows, so
    /// that a test can kill or freeze something in the middle of its batches.
    pub fn wait_archived_more_than(&self, n: u64) {
        let mut c = self.conn();
        let start = std::time::Instant::now();
        loop {
            let archived: Option<u64> = c.query_first("SELECT COUNT(*) FROM seqfix_archive").ok().flatten();
            if archived.unwrap_or(0) > n {
                return;
            }
            assert!(start.elapsed().as_secs() < 60, "dedupe never got going");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `seqfix` with DATABASE_URL pointing at this database.
    pub fn seqfix(&self) -> Seqfix {
        let mut s = Seqfix::new();
        s.cmd.env("DATABASE_URL", &self.url);
        s
    }

    /// Every id of a table, sorted.
    pub fn ids(&self, table: &str) -> Vec<String> {
        self.conn().query(format!("SELECT id FROM `{table}` ORDER BY id")).unwrap()
    }

    /// Whether `table` exists in this database.
    pub fn has_table(&self, table: &str) -> bool {
        let n: Option<u64> = self
            .conn()
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .unwrap();
        n == Some(1)
    }

    pub fn count(&self, table: &str) -> u64 {
        self.conn().query_first(format!("SELECT COUNT(*) FROM `{table}`")).unwrap().unwrap()
    }

    /// A digest of a table's full contents (every column), for "nothing changed" checks.
    pub fn checksum(&self, table: &str) -> String {
        let rows: Vec<mysql::Row> = self.conn().query(format!("SELECT * FROM `{table}` ORDER BY 1")).unwrap();
        let mut s = String::new();
        for r in rows {
            for i in 0..r.len() {
                s += &format!("{:?}|", r.as_ref(i));
            }
            s.push('\n');
        }
        format!("{}:{}", s.lines().count(), seqfix_digest(&s))
    }
}

fn seqfix_digest(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping database {} of the failed test for inspection", self.name);
            return;
        }
        if let Ok(mut c) = Conn::new(Opts::from_url(&self.admin_url).unwrap()) {
            let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

/// Runs the seqfix binary.
pub struct Seqfix {
    pub cmd: Command,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// A finished run's output, swept for what no output of seqfix may hold: the driver's
    /// Rust error wrappers (`MySqlError { ... }`) and the test user's password.
    pub fn from_output(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        };
        let password = admin_password();
        for text in [&run.stdout, &run.stderr] {
            for wrapper in ["MySqlError {", "CodecError {", "DriverError {", "IoError {", "UrlError {", "TlsError {"] {
                assert!(!text.contains(wrapper), "seqfix printed the driver's {wrapper:?} text:\n{text}");
            }
            assert!(password.len() < 6 || !text.contains(&password), "seqfix printed the password:\n{text}");
        }
        run
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts an error run: exit 2 and exactly one line on stderr containing `needle`.
    pub fn expect_error(self, needle: &str) -> Run {
        let run = self.expect_code(2);
        let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", run.stderr);
        assert!(run.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", run.stderr);
        run
    }
}

impl Seqfix {
    pub fn new() -> Seqfix {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seqfix"));
        cmd.env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .env("HOME", "/nonexistent-seqfix-test-home")
            .stdin(Stdio::null());
        Seqfix { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Seqfix
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Seqfix {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Run {
        Run::from_output(self.cmd.output().expect("run seqfix"))
    }

    /// Starts without waiting (for kill and concurrency tests).
    pub fn spawn(mut self) -> Child {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn seqfix")
    }
}

/// A survivor rule as the tests compute it, written here from the words, not
/// taken from seqfix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepRule {
    /// `--keep sent-first` with this status order (lowercase, best first): status, then
    /// oldest created_at (NULL newest), then smallest id; a group holding any other status
    /// is left alone.
    SentFirst(Vec<String>),
    /// `--keep oldest`: oldest created_at (NULL newest), then smallest id.
    Oldest,
}

impl KeepRule {
    pub fn sent_first() -> KeepRule {
        KeepRule::SentFirst(["sent", "processing", "queued", "pending", "failed"].map(String::from).to_vec())
    }

    /// The status's place in the order (case-insensitive), `None` when unknown.
    fn rank(&self, status: &str) -> Option<usize> {
        match self {
            KeepRule::Oldest => Some(0),
            KeepRule::SentFirst(order) => order.iter().position(|s| *s == status.to_lowercase()),
        }
    }
}

/// The answer the tests expect, computed from the generated rows alone with the rule as the
/// issue states it (by default sent-first: status sent, processing, queued, pending,
/// failed; then oldest created_at, NULL newest; then smallest id), without seqfix code.
pub struct Expected {
    /// (step, phone, device) → rows in survivor order (as generated for a group left alone).
    pub groups: BTreeMap<(String, String, String), Vec<Message>>,
    /// Keys of the duplicate groups the rule leaves alone (a status it does not rank).
    pub left_alone: std::collections::BTreeSet<(String, String, String)>,
}

impl Expected {
    /// With the default rule, `--keep sent-first`.
    pub fn of(rows: &[Message]) -> Expected {
        Expected::with(rows, &KeepRule::sent_first())
    }

    /// With the original rule, `--keep oldest`.
    pub fn oldest(rows: &[Message]) -> Expected {
        Expected::with(rows, &KeepRule::Oldest)
    }

    pub fn with(rows: &[Message], rule: &KeepRule) -> Expected {
        let mut groups: BTreeMap<(String, String, String), Vec<Message>> = BTreeMap::new();
        for m in rows {
            if let Some(step) = &m.sequence_stepid {
                groups
                    .entry((step.clone(), m.recipient_phone.clone(), m.device_id.clone()))
                    .or_default()
                    .push(m.clone());
            }
        }
        let mut left_alone = std::collections::BTreeSet::new();
        for (key, g) in groups.iter_mut() {
            if g.len() > 1 && g.iter().any(|m| rule.rank(&m.status).is_none()) {
                left_alone.insert(key.clone());
                continue;
            }
            g.sort_by(|a, b| {
                let ka = (rule.rank(&a.status), a.created_at.is_none(), a.created_at.unwrap_or(0), a.id.clone());
                let kb = (rule.rank(&b.status), b.created_at.is_none(), b.created_at.unwrap_or(0), b.id.clone());
                ka.cmp(&kb)
            });
        }
        Expected { groups, left_alone }
    }

    /// Every duplicate group, those left alone included.
    pub fn duplicate_groups(&self) -> Vec<&Vec<Message>> {
        self.groups.values().filter(|g| g.len() > 1).collect()
    }

    /// The duplicate groups the rule dedupes (not left alone).
    pub fn decided_groups(&self) -> Vec<&Vec<Message>> {
        self.groups.iter().filter(|(k, g)| g.len() > 1 && !self.left_alone.contains(*k)).map(|(_, g)| g).collect()
    }

    /// Surplus rows of every duplicate group.
    pub fn surplus(&self) -> usize {
        self.duplicate_groups().iter().map(|g| g.len() - 1).sum()
    }

    /// Ids a dedupe must delete, sorted.
    pub fn victims(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.decided_groups().iter().flat_map(|g| g[1..].iter().map(|m| m.id.clone())).collect();
        v.sort();
        v
    }

    /// victim id → survivor id.
    pub fn survivor_of(&self) -> BTreeMap<String, String> {
        self.decided_groups().iter().flat_map(|g| g[1..].iter().map(|m| (m.id.clone(), g[0].id.clone()))).collect()
    }

    /// The groups whose oldest copy (the original rule's survivor) is not sent while
    /// another copy is: those the original rule would have had delivered again.
    pub fn resent_by_oldest(&self) -> usize {
        self.duplicate_groups()
            .iter()
            .filter(|g| {
                let oldest = g.iter().min_by_key(|m| (m.created_at.is_none(), m.created_at, m.id.clone())).unwrap();
                oldest.status.to_lowercase() != "sent" && g.iter().any(|m| m.status.to_lowercase() == "sent")
            })
            .count()
    }
}
