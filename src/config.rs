//! Command-line values and environment turned into a checked `Config`: the connection
//! target (with the password kept out of every message), validated identifiers, durations.
use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mysql::{Opts, OptsBuilder, SslOpts};

use crate::cli::{Format, GlobalArgs};

/// A MySQL identifier (table name) that has been checked and can be backtick-quoted safely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    /// Accepts the identifiers seqfix needs: 1-64 characters of ASCII letters, digits, `_`
    /// and `$`, not all digits. Anything else (backticks, quotes, dots, semicolons,
    /// spaces) is refused rather than escaped: a DBA never needs them for these tables.
    pub fn new(what: &str, name: &str) -> Result<Ident> {
        let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if name.is_empty() || name.len() > 64 || !ok_chars || name.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "invalid {what} name {name:?}: use 1-64 letters, digits, '_' or '$' (no quotes, backticks, dots, spaces or semicolons)"
            );
        }
        Ok(Ident(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier wrapped in backticks, ready to splice into SQL text.
    pub fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where to connect, without ever exposing the password.
#[derive(Clone)]
pub struct DbConfig {
    opts: Opts,
    /// `user@host:port/db`, safe to print.
    display: String,
    pub database: String,
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbConfig({})", self.display)
    }
}

impl DbConfig {
    pub fn opts(&self) -> Opts {
        self.opts.clone()
    }

    /// `user@host:port/database`: what error messages name.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Parses `mysql://user:password@host:port/database?options`. Supported options:
    /// `ssl-mode` (DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY), `ssl-ca` (a CA file) and
    /// `socket` (a Unix socket path). The password is percent-decoded and never echoed.
    pub fn from_url(raw: &str, connect_timeout: Duration) -> Result<DbConfig> {
        let url = url::Url::parse(raw).map_err(|e| {
            anyhow::anyhow!("malformed database URL ({e}): expected mysql://user:password@host:port/database")
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
        let pass = match url.password() {
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

        let mut builder = OptsBuilder::new()
            .ip_or_hostname(Some(host.clone()))
            .tcp_port(port)
            .user(Some(user.clone()))
            .pass(pass)
            .db_name(Some(database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(connect_timeout))
            .tcp_keepalive_time_ms(Some(30_000));
        let mut ssl_mode: Option<String> = None;
        let mut ssl_ca: Option<String> = None;
        let mut socket: Option<String> = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "ssl-mode" | "ssl_mode" | "sslmode" => ssl_mode = Some(value.to_ascii_uppercase()),
                "ssl-ca" | "ssl_ca" => ssl_ca = Some(value.to_string()),
                "socket" => socket = Some(value.to_string()),
                other => {
                    bail!("unknown database URL option {other:?}: supported options are ssl-mode, ssl-ca and socket")
                }
            }
        }
        if let Some(path) = &socket {
            builder = builder.socket(Some(path.clone())).prefer_socket(true);
        }
        builder = builder.ssl_opts(ssl_opts(ssl_mode.as_deref(), ssl_ca)?);
        let where_ = match &socket {
            Some(path) => format!("{user}@{path}/{database}"),
            None => format!("{user}@{host}:{port}/{database}"),
        };
        Ok(DbConfig { opts: Opts::from(builder), display: where_, database })
    }
}

fn decode(s: &str, what: &str) -> Result<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("database URL has a malformed {what}"))
}

fn ssl_opts(mode: Option<&str>, ca: Option<String>) -> Result<Option<SslOpts>> {
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
        other => bail!(
            "unknown ssl-mode {other:?} in the database URL: use DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
        ),
    })
}

/// Everything an operation needs to know, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: DbConfig,
    pub table: Ident,
    pub format: Format,
    pub progress: bool,
}

impl Config {
    pub fn from_args(global: &GlobalArgs) -> Result<Config> {
        let table = Ident::new("table", &global.table)?;
        let url = match &global.database_url {
            Some(url) if !url.trim().is_empty() => url.trim(),
            _ => bail!(
                "no database given: pass --database-url mysql://user:password@host:port/database or set DATABASE_URL"
            ),
        };
        let db = DbConfig::from_url(url, global.connect_timeout)?;
        Ok(Config { db, table, format: global.format, progress: !global.no_progress })
    }
}

/// Largest accepted `--batch-size`: bigger batches hold locks longer than an online
/// change should.
pub const MAX_BATCH_SIZE: u64 = 100_000;

fn batch_size(n: u64) -> Result<usize> {
    if n == 0 || n > MAX_BATCH_SIZE {
        bail!("--batch-size must be between 1 and {MAX_BATCH_SIZE} (got {n}); the default is 1000");
    }
    Ok(n as usize)
}

/// Checks `dedupe`'s arguments.
pub fn dedupe_options(args: &crate::cli::DedupeArgs, global: &GlobalArgs) -> Result<crate::dedupe::Options> {
    let archive = Ident::new("archive table", &args.archive_table)?;
    if args.max_replica_lag.is_some() && args.replica.is_empty() {
        bail!("--max-replica-lag needs at least one --replica URL to watch");
    }
    let mut replicas = Vec::new();
    for url in &args.replica {
        replicas.push(DbConfig::from_url(url, global.connect_timeout).context("--replica")?);
    }
    Ok(crate::dedupe::Options {
        batch_size: batch_size(args.batch_size)?,
        archive,
        dry_run: args.dry_run,
        plan_file: args.plan_file.clone(),
        yes: args.yes,
        sleep: args.sleep.unwrap_or_default(),
        max_replica_lag: args.max_replica_lag.unwrap_or(Duration::from_secs(10)),
        replicas,
        lock_wait_timeout: args.lock_wait_timeout.max(Duration::from_secs(1)),
    })
}

/// Checks `restore`'s arguments.
pub fn restore_options(args: &crate::cli::RestoreArgs) -> Result<crate::restore::Options> {
    Ok(crate::restore::Options {
        run_id: args.run_id.trim().to_string(),
        archive: Ident::new("archive table", &args.archive_table)?,
        dry_run: args.dry_run,
        yes: args.yes,
        batch_size: batch_size(args.batch_size)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    #[test]
    fn identifiers_are_validated() {
        for good in ["broadcast_messages", "t1", "seqfix$archive", "_x"] {
            assert!(Ident::new("table", good).is_ok(), "{good}");
        }
        for bad in ["", "a`b", "a'b", "a;drop", "a b", "db.t", "123", &"x".repeat(65)] {
            assert!(Ident::new("table", bad).is_err(), "{bad}");
        }
        assert_eq!(Ident::new("table", "t").unwrap().quoted(), "`t`");
    }

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
    fn ssl_modes() {
        assert!(DbConfig::from_url("mysql://u@h/d?ssl-mode=REQUIRED", T).unwrap().opts().get_ssl_opts().is_some());
        assert!(DbConfig::from_url("mysql://u@h/d?ssl-mode=disabled", T).unwrap().opts().get_ssl_opts().is_none());
        assert!(DbConfig::from_url("mysql://u@h/d", T).unwrap().opts().get_ssl_opts().is_none());
    }
}
