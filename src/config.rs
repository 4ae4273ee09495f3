//! Command-line values and environment turned into a checked `Config`: the connection
//! target (with the password kept out of every message), validated identifiers, durations.
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mysql::{Opts, OptsBuilder, SslOpts};

use crate::cli::{Format, GlobalArgs};
use crate::ident::Ident;
use crate::optionfile;

/// Creates and removes a file next to `path`, so that a file seqfix writes after its work
/// (`--metrics-file`, `--plan-file`) is known to be writable before any work is done.
pub fn probe_writable(path: &Path, flag: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!("the directory of {flag} {} does not exist (create it first)", path.display());
    }
    let probe = tempfile::Builder::new().prefix(".seqfix-probe-").tempfile_in(dir);
    match probe {
        Ok(file) => file.close().with_context(|| format!("cannot remove a probe file in {}", dir.display())),
        Err(e) => bail!(
            "cannot write {flag} {}: {e} (give a path in a directory this user may write; nothing was done)",
            path.display()
        ),
    }
}

/// A hint for a URL that failed to parse when its user or password seems to hold a
/// character that ends the URL's user part early (`/`, `#`, `?`): they must be
/// percent-encoded. Empty otherwise. Never quotes the URL.
fn encoding_hint(raw: &str) -> &'static str {
    let Some((_, rest)) = raw.split_once("://") else { return "" };
    match rest.rfind('@') {
        Some(at) if rest[..at].contains(['/', '#', '?']) => {
            "; if the password holds / # ? @ or :, percent-encode them (%2F %23 %3F %40 %3A)"
        }
        _ => "",
    }
}

/// Checks before any work that the metrics file can be written where asked, so a run
/// does not do its work and then fail on a typo in the path.
pub fn check_metrics_path(path: &Path) -> Result<()> {
    if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
        bail!("--metrics-file {} is not a file name", path.display());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!("the directory of --metrics-file {} does not exist (create it first)", path.display());
    }
    if path.is_dir() {
        bail!("--metrics-file {} is a directory; give a file name such as seqfix.prom", path.display());
    }
    probe_writable(path, "--metrics-file")
}

/// `text` with the password of every `scheme://user:password@...` in it replaced by `***`:
/// for messages that quote the command line back (clap's "unexpected argument" would print a
/// URL given without `--database-url`). A token runs to whitespace or a quote; its password
/// to the token's last `@`, so an unencoded `@` or `/` in the password is hidden too.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after.find(|c: char| c.is_whitespace() || c == '\'' || c == '"').unwrap_or(after.len());
        let token = &after[..end];
        match (token.rfind('@'), token.find(':')) {
            (Some(last_at), Some(colon)) if colon < last_at => {
                out.push_str(&token[..=colon]);
                out.push_str("***");
                out.push_str(&token[last_at..]);
            }
            _ => out.push_str(token),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Where to connect, without ever exposing the password.
#[derive(Clone)]
pub struct DbConfig {
    opts: Opts,
    /// `user@host:port/db`, safe to print.
    display: String,
    pub database: String,
    /// TCP connect, TLS and handshake together (see `db::connect`).
    pub connect_timeout: Duration,
    /// The socket's read and write timeout for every statement; None: no limit.
    pub io_timeout: Option<Duration>,
    /// How long the server keeps a silent lock-holding session (`wait_timeout`).
    pub idle_timeout: Duration,
}

/// `--idle-timeout`'s default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The read/write timeout of a connection unless `--io-timeout` says otherwise.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbConfig({})", self.display)
    }
}

impl DbConfig {
    pub fn opts(&self) -> Opts {
        // The driver sets these on the socket: the handshake and every read or write after
        // it fail with a timeout error instead of waiting forever on a hung server.
        Opts::from(
            OptsBuilder::from_opts(self.opts.clone()).read_timeout(self.io_timeout).write_timeout(self.io_timeout),
        )
    }

    /// `user@host:port/database`: what error messages name.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The same user, password, database, TLS settings and timeouts at another address: how
    /// seqfix reaches the other nodes of a cluster (a Unix socket, if the URL named one, is
    /// not used there).
    pub fn at(&self, host: &str, port: u16) -> DbConfig {
        let opts = OptsBuilder::from_opts(self.opts.clone())
            .ip_or_hostname(Some(host.to_string()))
            .tcp_port(port)
            .socket(None::<String>)
            .prefer_socket(false);
        let user = self.opts.get_user().unwrap_or_default();
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        DbConfig {
            opts: Opts::from(opts),
            display: format!("{user}@{host}:{port}/{}", self.database),
            database: self.database.clone(),
            connect_timeout: self.connect_timeout,
            io_timeout: self.io_timeout,
            idle_timeout: self.idle_timeout,
        }
    }

    /// Parses `mysql://user:password@host:port/database?options`. Supported options:
    /// `ssl-mode` (DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY), `ssl-ca` (a CA file) and
    /// `socket` (a Unix socket path). The password is percent-decoded and never echoed.
    pub fn from_url(raw: &str, connect_timeout: Duration) -> Result<DbConfig> {
        let url = url::Url::parse(raw).map_err(|e| {
            anyhow::anyhow!(
                "malformed database URL ({e}): expected mysql://user:password@host:port/database{}",
                encoding_hint(raw)
            )
        })?;
        if url.scheme() != "mysql" && url.scheme() != "mariadb" {
            bail!(
                "unsupported database URL scheme {:?}: expected mysql://user:password@host:port/database",
                url.scheme()
            );
        }
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            _ => bail!("database URL has no host: expected mysql://user:password@host:port/database"),
        };
        let port = url.port().unwrap_or(3306);
        let user = decode(url.username(), "user name")?;
        if user.is_empty() {
            bail!("database URL has no user name: expected mysql://user:password@host:port/database");
        }
        let password = match url.password() {
            Some(p) => Some(decode(p, "password")?),
            None => None,
        };
        let database = decode(url.path().trim_start_matches('/'), "database name")?;
        if database.is_empty() {
            bail!("database URL names no database: add it after the host, e.g. mysql://user@{host}:{port}/app");
        }
        if database.contains('/') {
            bail!("database URL path {database:?} is not a database name");
        }
        let mut parts = ConnParts { user, password, host, port, database, ..ConnParts::default() };
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "ssl-mode" | "ssl_mode" | "sslmode" => parts.ssl_mode = Some(value.to_string()),
                "ssl-ca" | "ssl_ca" => parts.ssl_ca = Some(value.to_string()),
                "socket" => parts.socket = Some(value.to_string()),
                other => {
                    bail!("unknown database URL option {other:?}: supported options are ssl-mode, ssl-ca and socket")
                }
            }
        }
        DbConfig::from_parts(parts, connect_timeout, "the database URL")
    }

    /// Builds the connection from its parts (URL or option file); `source` names where
    /// they came from in error messages.
    pub fn from_parts(parts: ConnParts, connect_timeout: Duration, source: &str) -> Result<DbConfig> {
        let ConnParts { user, password, host, port, socket, database, ssl_mode, ssl_ca } = parts;
        let mut builder = OptsBuilder::new()
            .ip_or_hostname(Some(host.clone()))
            .tcp_port(port)
            .user(Some(user.clone()))
            .pass(password)
            .db_name(Some(database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(connect_timeout))
            .tcp_keepalive_time_ms(Some(30_000));
        if let Some(path) = &socket {
            builder = builder.socket(Some(path.clone())).prefer_socket(true);
        }
        builder = builder.ssl_opts(ssl_opts(ssl_mode.map(|m| m.to_ascii_uppercase()).as_deref(), ssl_ca, source)?);
        let where_ = match &socket {
            Some(path) => format!("{user}@{path}/{database}"),
            None => format!("{user}@{host}:{port}/{database}"),
        };
        Ok(DbConfig {
            opts: Opts::from(builder),
            display: where_,
            database,
            connect_timeout,
            io_timeout: Some(DEFAULT_IO_TIMEOUT),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        })
    }

    /// Reads the connection from a MySQL option file (`[client]`, then `[seqfix]`).
    /// The database may be given there (`database=`); otherwise it is an error.
    pub fn from_option_file(path: &Path, connect_timeout: Duration) -> Result<DbConfig> {
        let settings = optionfile::read(path)?;
        let file = path.display();
        let get = |k: &str| settings.get(k).cloned().flatten().filter(|v| !v.is_empty());
        let user = get("user").ok_or_else(|| {
            anyhow::anyhow!("option file {file} gives no user: add user=NAME under [client] or [seqfix]")
        })?;
        let password = match settings.get("password") {
            Some(None) => bail!(
                "option file {file} has `password` without a value, which asks for a prompt; seqfix never prompts: write password=..."
            ),
            Some(Some(p)) => Some(p.clone()),
            None => None,
        };
        let database = get("database").ok_or_else(|| {
            anyhow::anyhow!(
                "no database given: option file {file} has no database= under [client] or [seqfix] (add database=NAME, or pass --database-url)"
            )
        })?;
        let port = match get("port") {
            None => 3306,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => bail!("option file {file}: port {p:?} is not a port number (1-65535)"),
            },
        };
        let parts = ConnParts {
            user,
            password,
            host: get("host").unwrap_or_else(|| "localhost".into()),
            port,
            socket: get("socket"),
            database,
            ssl_mode: get("ssl-mode"),
            ssl_ca: get("ssl-ca"),
        };
        DbConfig::from_parts(parts, connect_timeout, &format!("option file {file}"))
    }
}

/// The pieces of a connection, wherever they came from. Debug hides the password.
#[derive(Clone, Default)]
pub struct ConnParts {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub socket: Option<String>,
    pub database: String,
    pub ssl_mode: Option<String>,
    pub ssl_ca: Option<String>,
}

impl fmt::Debug for ConnParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnParts")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket", &self.socket)
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_ca", &self.ssl_ca)
            .finish()
    }
}

fn decode(s: &str, what: &str) -> Result<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("database URL has a malformed {what}"))
}

fn ssl_opts(mode: Option<&str>, ca: Option<String>, source: &str) -> Result<Option<SslOpts>> {
    let mode = match (mode, &ca) {
        (None, None) => return Ok(None),
        (None, Some(_)) => "VERIFY_CA",
        (Some(m), _) => m,
    };
    let base = SslOpts::default().with_root_cert_path(ca.map(std::path::PathBuf::from));
    Ok(match mode {
        "DISABLED" => None,
        "REQUIRED" => Some(base.with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true)),
        "VERIFY_CA" => Some(base.with_danger_skip_domain_validation(true)),
        "VERIFY_IDENTITY" => Some(base),
        other => bail!("unknown ssl-mode {other:?} in {source}: use DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"),
    })
}

/// Everything an operation needs to know, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: DbConfig,
    pub table: Ident,
    pub format: Format,
    pub progress: bool,
    /// Where to write the run's figures (Prometheus text format), if asked.
    pub metrics_file: Option<PathBuf>,
}

/// Where the connection settings come from. The first that is given wins:
/// `--database-url`/`DATABASE_URL`, then `--defaults-file`, then `~/.my.cnf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnSource {
    Url(String),
    OptionFile(PathBuf),
}

/// Picks the connection source by the precedence above. Pure: `home` is `$HOME` and
/// `exists` tells whether a path exists, so tests need no file system.
pub fn conn_source(
    url: Option<&str>,
    defaults_file: Option<&Path>,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Option<ConnSource> {
    if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) {
        return Some(ConnSource::Url(url.to_string()));
    }
    if let Some(path) = defaults_file {
        return Some(ConnSource::OptionFile(path.to_path_buf()));
    }
    let my_cnf = home.filter(|h| !h.as_os_str().is_empty())?.join(".my.cnf");
    exists(&my_cnf).then_some(ConnSource::OptionFile(my_cnf))
}

impl Config {
    pub fn from_args(global: &GlobalArgs) -> Result<Config> {
        let table = Ident::new("table", &global.table)?;
        if global.connect_timeout.is_zero() {
            bail!("--connect-timeout must be more than 0s (e.g. 10s)");
        }
        if let Some(path) = &global.metrics_file {
            check_metrics_path(path)?;
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let source =
            conn_source(global.database_url.as_deref(), global.defaults_file.as_deref(), home.as_deref(), |p| {
                p.symlink_metadata().is_ok()
            });
        let db = match source {
            Some(ConnSource::Url(url)) => {
                if let Some(f) = &global.defaults_file {
                    log::warn!(
                        "--defaults-file {} ignored: --database-url or DATABASE_URL takes precedence",
                        f.display()
                    );
                }
                DbConfig::from_url(&url, global.connect_timeout)?
            }
            Some(ConnSource::OptionFile(path)) => {
                log::info!("connection settings from option file {}", path.display());
                DbConfig::from_option_file(&path, global.connect_timeout)?
            }
            None => bail!(
                "no database given: pass --database-url mysql://user:password@host:port/database, set DATABASE_URL, or give an option file (--defaults-file FILE or ~/.my.cnf with user, password, host and database under [client])"
            ),
        };
        let mut db = db;
        if global.idle_timeout < Duration::from_secs(10) {
            bail!("--idle-timeout must be at least 10s (seqfix pings its lock connection every few seconds while it waits)");
        }
        db.idle_timeout = global.idle_timeout;
        db.io_timeout = match global.io_timeout {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => Some(DEFAULT_IO_TIMEOUT),
        };
        Ok(Config {
            db,
            table,
            format: global.format,
            progress: !global.no_progress,
            metrics_file: global.metrics_file.clone(),
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_unencoded_slash_or_hash_in_the_password_gets_a_hint() {
        for raw in ["mysql://app:pa/ss@db:3306/app", "mysql://app:pa#ss@db/app", "mysql://app:p?w@db/app"] {
            let err = format!("{:#}", DbConfig::from_url(raw, Duration::from_secs(1)).unwrap_err());
            assert!(err.contains("percent-encode"), "{raw}: {err}");
            assert!(!err.contains("pa/ss") && !err.contains("pa#ss") && !err.contains("p?w"), "{raw}: {err}");
        }
        assert_eq!(encoding_hint("mysql://app:secret@db/app"), "");
    }

    #[test]
    fn another_node_is_reached_with_the_same_credentials() {
        let c = DbConfig::from_url("mysql://app:secret@lb.example:3306/app?socket=/run/m.sock", T).unwrap();
        let node = c.at("10.0.0.7", 3307);
        assert_eq!(node.display(), "app@10.0.0.7:3307/app");
        let o = node.opts();
        assert_eq!((o.get_ip_or_hostname().as_ref(), o.get_tcp_port()), ("10.0.0.7", 3307));
        assert_eq!((o.get_user(), o.get_pass(), o.get_db_name()), (Some("app"), Some("secret"), Some("app")));
        assert_eq!(o.get_socket(), None);
        assert_eq!(c.at("::1", 3306).display(), "app@[::1]:3306/app");
    }

    #[test]
    fn urls_in_messages_lose_their_passwords() {
        let msg = "error: unexpected argument 'mysql://app:S3cr@t/x@db:3306/app' found";
        assert_eq!(redact_urls(msg), "error: unexpected argument 'mysql://app:***@db:3306/app' found");
        assert_eq!(redact_urls("a mysql://u:p@h/d and mysql://v:q@h/e"), "a mysql://u:***@h/d and mysql://v:***@h/e");
        // no password, no userinfo, nothing to hide
        assert_eq!(redact_urls("mysql://u@h/d mysql://h/d"), "mysql://u@h/d mysql://h/d");
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    use super::*;

    const T: Duration = Duration::from_secs(1);

    #[test]
    fn url_password_is_decoded_and_hidden() {
        let c = DbConfig::from_url("mysql://app:p%40ss%3Aw0rd+x@db.example:3307/app", T).unwrap();
        assert_eq!(c.display(), "app@db.example:3307/app");
        assert_eq!(c.opts().get_pass(), Some("p@ss:w0rd+x"));
        assert_eq!(c.opts().get_tcp_port(), 3307);
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn url_errors_do_not_echo_the_password() {
        for bad in [
            "mysql://app:secretpw@/app",
            "postgres://app:secretpw@h/app",
            "mysql://app:secretpw@h:99999/app",
            "mysql://app:secretpw@h/",
            "mysql://app:secretpw@h/app?bogus=1",
            "mysql://app:secretpw@h/app?ssl-mode=sometimes",
            "not a url secretpw",
        ] {
            let err = DbConfig::from_url(bad, T).unwrap_err().to_string();
            assert!(!err.contains("secretpw"), "{bad}: {err}");
        }
    }

    #[test]
    fn connection_source_precedence() {
        let home = Path::new("/home/ops");
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        let df = Path::new("/etc/seqfix/my.cnf");
        assert_eq!(
            conn_source(Some("mysql://u@h/d"), Some(df), Some(home), yes),
            Some(ConnSource::Url("mysql://u@h/d".into()))
        );
        assert_eq!(conn_source(Some("  "), Some(df), Some(home), yes), Some(ConnSource::OptionFile(df.into())));
        assert_eq!(conn_source(None, Some(df), Some(home), yes), Some(ConnSource::OptionFile(df.into())));
        assert_eq!(conn_source(None, None, Some(home), yes), Some(ConnSource::OptionFile(home.join(".my.cnf"))));
        assert_eq!(conn_source(None, None, Some(home), no), None);
        assert_eq!(conn_source(None, None, None, yes), None);
    }

    #[test]
    fn option_file_builds_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(
            &path,
            "[client]\nuser=app\npassword=\"p@ss:w/rd#\\\"x\"\nhost=db.example\nport=3307\n[seqfix]\ndatabase=app\nssl-mode=required\n",
        )
        .unwrap();
        let c = DbConfig::from_option_file(&path, T).unwrap();
        assert_eq!(c.display(), "app@db.example:3307/app");
        assert_eq!(c.opts().get_pass(), Some("p@ss:w/rd#\"x"));
        assert!(c.opts().get_ssl_opts().is_some());
        assert!(!format!("{c:?}").contains("p@ss"));
        let parts = ConnParts { password: Some("s3cr3t".into()), ..ConnParts::default() };
        assert!(!format!("{parts:?}").contains("s3cr3t"));

        std::fs::write(&path, "[client]\nuser=app\npassword=s3cr3t\n").unwrap();
        let err = DbConfig::from_option_file(&path, T).unwrap_err().to_string();
        assert!(err.contains("no database given") && !err.contains("s3cr3t"), "{err}");
        std::fs::write(&path, "[client]\nuser=app\npassword\ndatabase=d\n").unwrap();
        assert!(DbConfig::from_option_file(&path, T).unwrap_err().to_string().contains("never prompts"));
        std::fs::write(&path, "[client]\nuser=app\nport=http\ndatabase=d\n").unwrap();
        assert!(DbConfig::from_option_file(&path, T).unwrap_err().to_string().contains("not a port number"));
        std::fs::write(&path, "[client]\nuser=app\ndatabase=d\nssl-mode=maybe\n").unwrap();
        assert!(DbConfig::from_option_file(&path, T).unwrap_err().to_string().contains("unknown ssl-mode"));
        std::fs::write(&path, "[client]\nuser=app\nsocket=/run/mysqld/mysqld.sock\ndatabase=d\n").unwrap();
        let c = DbConfig::from_option_file(&path, T).unwrap();
        assert_eq!(c.display(), "app@/run/mysqld/mysqld.sock/d");
        assert_eq!(c.opts().get_socket(), Some("/run/mysqld/mysqld.sock"));
        assert_eq!(c.opts().get_ip_or_hostname(), "localhost");
        let err = DbConfig::from_option_file(&dir.path().join("nope.cnf"), T).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read the option file"), "{err:#}");
    }

    #[test]
    fn ssl_modes() {
        assert!(DbConfig::from_url("mysql://u@h/d?ssl-mode=REQUIRED", T).unwrap().opts().get_ssl_opts().is_some());
        assert!(DbConfig::from_url("mysql://u@h/d?ssl-mode=disabled", T).unwrap().opts().get_ssl_opts().is_none());
        assert!(DbConfig::from_url("mysql://u@h/d", T).unwrap().opts().get_ssl_opts().is_none());
    }
}
