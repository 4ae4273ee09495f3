//! A real 3-node MariaDB Galera cluster on loopback, for the cluster tests.
//!
//! Started once per test process, lazily, by the first test that asks (`Cluster::shared`);
//! each test then takes a fresh database of its own (`Cluster::fresh_db`), which Galera
//! replicates to every node. Nodes are private servers (`Server`) with the `galera-4`
//! provider that the Debian `mariadb-server` package installs: the first bootstraps the
//! cluster (`--wsrep-new-cluster`), the others join it by rsync SST, one after the other.
//! Every port (SQL, group communication, IST, SST) is a free one on 127.0.0.1.
//!
//! Run as root, the nodes run as user `mysql` with their directories owned by it: rsync SST's
//! daemon drops to `nobody`-like users and the SST script runs as the server's user, so a
//! root-owned 0700 data directory makes the join fail.
//!
//! When the cluster cannot start, every cluster test fails with the reason: it never passes
//! silently.

use std::path::Path;
use std::sync::{mpsc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::{free_port, Server, ServerOpts, TestDb};

/// Where the Galera provider library is (package galera-4).
pub const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// Group-communication timeouts for a machine that also runs the rest of the suite: with
/// Galera's defaults (a peer suspected after 5 s of silence) a joining node was partitioned
/// away from the other two while the machine's two cores and its disk were busy with other
/// tests, and aborted its join. Loopback never loses a packet; silence here means load.
const TOLERANT: &str =
    "evs.suspect_timeout=PT30S;evs.inactive_timeout=PT60S;evs.install_timeout=PT60S;pc.wait_prim_timeout=PT120S";

/// A running cluster; node 0 bootstrapped it.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

/// The ports of one node besides its SQL port.
#[derive(Clone, Copy)]
struct NodePorts {
    gcomm: u16,
    ist: u16,
    sst: u16,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// Who uses the cluster now: how many tests share it, and whether one has it to itself
/// (a test that changes a global setting, such as `wsrep_max_ws_rows`, which every
/// transaction started on that node obeys).
struct Users {
    sharing: usize,
    exclusive: bool,
}

static USERS: (Mutex<Users>, Condvar) = (Mutex::new(Users { sharing: 0, exclusive: false }), Condvar::new());

/// A test's hold on the cluster, released when dropped (a failing test's too).
pub struct Hold {
    exclusive: bool,
}

impl Hold {
    /// Waits until no test has the cluster to itself (`exclusive`: until no other test
    /// uses it at all), then holds it. A shared hold never waits for an exclusive one that
    /// is only waiting, so a test holding two databases cannot deadlock.
    fn take(exclusive: bool) -> Hold {
        let (lock, changed) = &USERS;
        let mut users = lock.lock().unwrap_or_else(|e| e.into_inner());
        while users.exclusive || (exclusive && users.sharing > 0) {
            users = changed.wait(users).unwrap_or_else(|e| e.into_inner());
        }
        if exclusive {
            users.exclusive = true;
        } else {
            users.sharing += 1;
        }
        Hold { exclusive }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let (lock, changed) = &USERS;
        let mut users = lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.exclusive {
            users.exclusive = false;
        } else {
            users.sharing -= 1;
        }
        changed.notify_all();
    }
}

impl Cluster {
    /// The cluster shared by the cluster tests of this process (3 nodes), started on first use.
    /// Panics with the reason when it could not start. `None` in the MySQL pass
    /// (`SEQFIX_TEST_SERVER=mysql`): Galera is MariaDB's, and the MariaDB pass runs these tests.
    pub fn shared() -> Option<&'static Cluster> {
        if matches!(super::program(), super::Program::MySql { .. }) {
            eprintln!("the Galera cluster tests run in the MariaDB pass (SEQFIX_TEST_SERVER=mariadb)");
            return None;
        }
        match SHARED.get_or_init(|| {
            // A cluster that could not form under a loaded machine (a node partitioned away
            // while it joined) is started once more, from scratch, before the tests give up.
            Cluster::start_lasting(3).or_else(|first| {
                eprintln!("seqfix tests: the Galera cluster did not start ({first}); starting a new one");
                Cluster::start_lasting(3).map_err(|second| format!("{second}\n(the first try: {first})"))
            })
        }) {
            Ok(c) => Some(c),
            Err(why) => panic!("the 3-node Galera test cluster could not start: {why}"),
        }
    }

    /// Starts a cluster of `n` nodes from a thread that lives as long as the process (the
    /// nodes' parent-death signal is tied to the thread that forked them).
    fn start_lasting(n: usize) -> Result<Cluster, String> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("seqfix-test-cluster".into())
            .spawn(move || {
                let started = std::panic::catch_unwind(|| Cluster::start(n)).unwrap_or_else(|e| {
                    Err(e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "a node's start panicked".into()))
                });
                tx.send(started).unwrap();
                loop {
                    std::thread::park();
                }
            })
            .unwrap();
        rx.recv().unwrap_or_else(|_| Err("the thread starting the cluster died".into()))
    }

    fn start(n: usize) -> Result<Cluster, String> {
        if !Path::new(PROVIDER).is_file() {
            return Err(format!(
                "no Galera provider at {PROVIDER}: install the galera-4 package (scripts/test.sh does)"
            ));
        }
        if super::which(&["rsync"]).is_none() {
            return Err("rsync SST needs the rsync command: install the rsync package (scripts/test.sh does)".into());
        }
        let started = Instant::now();
        let ports: Vec<NodePorts> =
            (0..n).map(|_| NodePorts { gcomm: free_port(), ist: free_port(), sst: free_port() }).collect();
        let address =
            format!("gcomm://{}", ports.iter().map(|p| format!("127.0.0.1:{}", p.gcomm)).collect::<Vec<_>>().join(","));
        let mut nodes = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let mut args = vec![
                "--wsrep-on=ON".to_string(),
                format!("--wsrep-provider={PROVIDER}"),
                format!("--wsrep-cluster-address={address}"),
                format!(
                    "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{};gcache.size=64M;{TOLERANT}",
                    p.gcomm, p.ist
                ),
                format!("--wsrep-sst-receive-address=127.0.0.1:{}", p.sst),
                format!("--wsrep-node-address=127.0.0.1:{}", p.gcomm),
                // The SQL address the node announces in wsrep_incoming_addresses (its own port is
                // added): bound to loopback, a node cannot guess it and announces "AUTO".
                "--wsrep-node-incoming-address=127.0.0.1".into(),
                format!("--wsrep-node-name=node{}", i + 1),
                "--wsrep-cluster-name=seqfix-test".into(),
                "--wsrep-sst-method=rsync".into(),
                "--binlog-format=ROW".into(),
                "--innodb-autoinc-lock-mode=2".into(),
                "--innodb-buffer-pool-size=64M".into(),
                format!("--server-id={}", 100 + i),
            ];
            if i == 0 {
                args.push("--wsrep-new-cluster".into());
            }
            let user = if super::is_root() { "mysql" } else { "" };
            let node = if user.is_empty() {
                Server::start(ServerOpts { args })
            } else {
                Server::start_as(ServerOpts { args }, user)
            };
            wait_synced(&node, i + 1, Duration::from_secs(120))?;
            nodes.push(node);
        }
        for (i, node) in nodes.iter().enumerate() {
            wait_size(node, i + 1, n, Duration::from_secs(60))?;
        }
        eprintln!("seqfix tests: {n}-node Galera cluster up in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Cluster { nodes })
    }

    /// A fresh database for one test, created on node 1 (replicated to every node). The
    /// test shares the cluster with the other cluster tests until it drops the database.
    pub fn fresh_db(&self, label: &str) -> ClusterDb {
        self.fresh_db_held(label, Hold::take(false))
    }

    /// A fresh database for a test that changes global settings: it has the cluster to
    /// itself (no other cluster test runs) until it drops the database, and must put the
    /// settings back before.
    pub fn exclusive_db(&self, label: &str) -> ClusterDb {
        self.fresh_db_held(label, Hold::take(true))
    }

    fn fresh_db_held(&self, label: &str, hold: Hold) -> ClusterDb {
        let db = self.nodes[0].fresh_db(label);
        // DDL is replicated in total order, but a node applies it asynchronously: wait until
        // every node has the database before the test uses it there.
        for node in &self.nodes[1..] {
            let mut c = node.admin_conn();
            c.query_drop("SET SESSION wsrep_sync_wait = 1").unwrap();
            let _: Option<u64> = c
                .exec_first("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (&db.name,))
                .unwrap();
        }
        ClusterDb {
            urls: self.nodes.iter().map(|n| format!("{}{}", n.admin_url(), db.name)).collect(),
            db,
            _hold: hold,
        }
    }
}

/// One test's database on the cluster.
pub struct ClusterDb {
    /// The database as reached through node 1.
    pub db: TestDb,
    /// Its URL through each node, node 1 first.
    pub urls: Vec<String>,
    /// Dropped after `db`, so the database is gone before another test may have the
    /// cluster to itself.
    _hold: Hold,
}

impl ClusterDb {
    /// A connection to the database through node `i` (0-based), UTC session time zone.
    pub fn conn_on(&self, i: usize) -> mysql::Conn {
        let mut c = mysql::Conn::new(mysql::Opts::from_url(&self.urls[i]).unwrap()).expect("connect to a cluster node");
        c.query_drop("SET time_zone = '+00:00'").unwrap();
        c
    }

    /// `seqfix` with DATABASE_URL pointing at this database through node `i`.
    pub fn seqfix_on(&self, i: usize) -> super::Seqfix {
        let mut s = super::Seqfix::new();
        s.cmd.env("DATABASE_URL", &self.urls[i]);
        s
    }
}

fn status(node: &Server, name: &str) -> Option<String> {
    let mut c = node.socket_conn();
    let row: Option<(String, String)> = c.query_first(format!("SHOW GLOBAL STATUS LIKE '{name}'")).unwrap();
    row.map(|(_, v)| v)
}

fn wait_synced(node: &Server, number: usize, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let state = status(node, "wsrep_local_state_comment");
        if state.as_deref() == Some("Synced") {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!(
                "node {number} is not Synced after {} s (state {state:?}); its error log ends with:\n{}",
                limit.as_secs(),
                node.error_log_tail(30)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_size(node: &Server, number: usize, n: usize, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let size = status(node, "wsrep_cluster_size");
        if size.as_deref() == Some(n.to_string().as_str()) {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("node {number} sees a cluster of {size:?} nodes, not {n}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
