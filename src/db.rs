//! The connection: opening it with errors a DBA can act on, what server it is, and the
//! advisory lock guard that keeps two seqfix runs from working on the same thing.
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::Conn;

use crate::config::DbConfig;
use crate::ident::Ident;
use crate::outcome::error_text;

/// Which server family we talk to; statements differ slightly between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// The family's own spelling, as status names it.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MariaDb => "MariaDB",
            Flavor::MySql => "MySQL",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    pub flavor: Flavor,
    /// e.g. "10.11.19-MariaDB-0+deb12u1"
    pub version: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ServerInfo {
    pub fn parse(version: &str) -> ServerInfo {
        let flavor = if version.to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql };
        // MariaDB may announce itself as "5.5.5-10.11.6-MariaDB"; the real version follows.
        let v = version.strip_prefix("5.5.5-").unwrap_or(version);
        let mut nums = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0));
        let major = nums.next().unwrap_or(0);
        let minor = nums.next().unwrap_or(0);
        let patch = nums.next().unwrap_or(0);
        ServerInfo { flavor, version: version.to_string(), major, minor, patch }
    }

    /// `SHOW REPLICA STATUS` exists from MariaDB 10.5 and MySQL 8.0.22.
    pub fn has_show_replica_status(&self) -> bool {
        match self.flavor {
            Flavor::MariaDb => (self.major, self.minor) >= (10, 5),
            Flavor::MySql => (self.major, self.minor, self.patch) >= (8, 0, 22),
        }
    }

    /// The table listing the server's connections: MySQL deprecates
    /// `information_schema.PROCESSLIST` for `performance_schema.processlist`.
    pub fn processlist(&self) -> crate::sql::Fragment {
        crate::sql::Fragment::sql(match self.flavor {
            Flavor::MariaDb => crate::sql::PROCESSLIST_MARIADB,
            Flavor::MySql => crate::sql::PROCESSLIST_MYSQL,
        })
    }
}

impl fmt::Display for ServerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.version)
    }
}

/// An open connection plus what we learned about the server on connecting.
pub struct Db {
    pub conn: Conn,
    pub server: ServerInfo,
    pub database: String,
    pub user: String,
    pub display: String,
    /// `wait_timeout` of a session once it holds an advisory lock (`--idle-timeout`).
    pub idle_timeout: Duration,
}

impl Deref for Db {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for Db {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// Opens a connection and turns the driver's errors into one line that says what to do.
pub fn connect(cfg: &DbConfig) -> Result<Db> {
    let mut conn = open_within(cfg)?;
    let (version, user): (String, String) = conn
        .query_first("SELECT VERSION(), CURRENT_USER()")
        .with_context(|| format!("cannot query the server at {}", cfg.display()))?
        .ok_or_else(|| anyhow!("server at {} returned no version", cfg.display()))?;
    let server = ServerInfo::parse(&version);
    conn.query_drop(crate::sql::SESSION_UTC)
        .with_context(|| format!("cannot set the session time zone on {}", cfg.display()))?;
    log::info!("connected to {} ({})", cfg.display(), server.version);
    Ok(Db {
        conn,
        server,
        database: cfg.database.clone(),
        user,
        display: cfg.display().to_string(),
        idle_timeout: cfg.idle_timeout,
    })
}

/// Opens the connection, giving up after `--connect-timeout` in all: the driver's own
/// timeout covers the TCP connect only, and a peer that accepts and then says nothing (a
/// hung server, a port that is not MySQL's) would hold the handshake until the read
/// timeout. The handshake runs on a thread; one that outlives the limit is abandoned with
/// its socket (the process ends soon after, with this error).
fn open_within(cfg: &DbConfig) -> Result<Conn> {
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = cfg.opts();
    std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            let _ = tx.send(Conn::new(opts));
        })
        .context("cannot start a thread to connect")?;
    match rx.recv_timeout(cfg.connect_timeout) {
        Ok(result) => result.map_err(|e| explain_connect_error(cfg, e)),
        Err(_) => bail!(
            "cannot connect to {}: no answer to the log-in handshake within --connect-timeout {} \
             (is the server hung or overloaded? is that port a MySQL server?)",
            cfg.display(),
            humantime::format_duration(cfg.connect_timeout)
        ),
    }
}

fn explain_connect_error(cfg: &DbConfig, err: mysql::Error) -> anyhow::Error {
    let at = cfg.display();
    match &err {
        mysql::Error::MySqlError(e) => match e.code {
            // MariaDB's require_secure_transport refuses a plain connection with this same
            // error (MySQL's says so, error 3159): with TLS off, name that cause too.
            1045 if cfg.opts().get_ssl_opts().is_none() => anyhow!(
                "access denied for {at}: check the user name and password (the password is not shown), \
                 and whether the server requires TLS (then add ssl-mode=VERIFY_IDENTITY and ssl-ca)"
            ),
            1045 => anyhow!("access denied for {at}: check the user name and password (the password is not shown)"),
            1044 => anyhow!("access denied to the database of {at}: grant the user access to it"),
            1049 => anyhow!("unknown database in {at}: check the database name in the URL"),
            1040 | 1203 => anyhow!("server at {at} refused the connection: too many connections"),
            _ => anyhow!("cannot connect to {at}: server said {} (error {})", e.message, e.code),
        },
        mysql::Error::IoError(e) => {
            anyhow!("cannot reach the server at {at}: {e} (is it running? check host, port and firewall)")
        }
        // MySQL answers a user name it does not know by asking for some plugin, often
        // sha256_password (so that a client cannot tell which accounts exist); an account
        // really made with sha256_password asks the same. Neither can log in: say both.
        mysql::Error::DriverError(mysql::DriverError::UnknownAuthPlugin(plugin)) => anyhow!(
            "access denied for {at}: check the user name and password (the password is not shown); \
             if the account exists, it uses the {plugin} authentication plugin, which seqfix does not support: \
             switch it with ALTER USER ... IDENTIFIED WITH caching_sha2_password BY '...'"
        ),
        mysql::Error::DriverError(e @ mysql::DriverError::CouldNotConnect(_)) => {
            anyhow!("cannot reach the server at {at}: {e} (is it running? check host, port and firewall)")
        }
        mysql::Error::DriverError(e) => {
            anyhow!(
                "cannot connect to {at}: {e} (is the server running and reachable? is --connect-timeout long enough?)"
            )
        }
        // A failed TLS handshake (rustls reports it through the packet codec's I/O), and the rest.
        other => anyhow!("cannot connect to {at}: {}", error_text(other)),
    }
}

/// The error code of a server error, if this is one.
pub fn server_error_code(err: &anyhow::Error) -> Option<u16> {
    err.chain().find_map(|e| match e.downcast_ref::<mysql::Error>() {
        Some(mysql::Error::MySqlError(m)) => Some(m.code),
        _ => None,
    })
}

/// The name of seqfix's advisory lock for `command` on `key` (a database, or
/// `database.table`): `seqfix.<command>.<key>`. GET_LOCK names are limited to 64
/// characters on MySQL, so a longer key is replaced by a fixed SipHash-1-3 (zero keys) of
/// it, written as 16 hex digits: stable across releases and hosts, so every run agrees.
pub fn lock_name(command: &str, key: &str) -> String {
    let name = format!("seqfix.{command}.{key}");
    if name.len() <= 64 {
        return name;
    }
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    h.write(key.as_bytes());
    format!("seqfix.{command}.{:016x}", h.finish())
}

/// The lock that keeps two dedupes (or a dedupe and a restore, or the empty-steps remedy)
/// off one table.
pub fn dedupe_lock_name(database: &str, table: &Ident) -> String {
    lock_name("dedupe", &format!("{database}.{table}"))
}

/// The lock that keeps two migrations off one database.
pub fn migrate_lock_name(database: &str) -> String {
    lock_name("migrate", database)
}

/// The lock `seqfix process` holds while it runs: one pass per database at a time.
pub fn process_lock_name(database: &str) -> String {
    lock_name("process", database)
}

/// The lock a command recorded in the ledger holds while it runs, when it takes one: status
/// uses it to tell a run that is still going from one that died. Other commands take none.
pub fn command_lock_name(command: &str, database: &str, table: &Ident) -> Option<String> {
    match command {
        "process" => Some(process_lock_name(database)),
        "dedupe" | "restore" => Some(dedupe_lock_name(database, table)),
        "migrate" => Some(migrate_lock_name(database)),
        _ => None,
    }
}

/// The result of trying to take an advisory lock.
pub enum LockAttempt<'c> {
    Acquired(LockGuard<'c>),
    /// Another connection holds it; its connection id if the server could tell.
    Busy {
        holder: Option<u64>,
    },
}

/// An advisory lock (`GET_LOCK`) held by the connection that does the work. While it
/// lives, every statement goes through it (it derefs to the connection); dropping it
/// releases the lock. If the connection dies the server releases the lock by itself,
/// which is why the lock must be on the working connection and not a side one.
pub struct LockGuard<'c> {
    db: &'c mut Db,
    name: String,
}

impl Db {
    /// Tries `GET_LOCK(name, timeout)`. Exactly 1 means we hold it; 0 means another
    /// connection holds it (its id comes from `IS_USED_LOCK`); NULL is an error.
    pub fn try_lock(&mut self, name: &str, timeout: Duration) -> Result<LockAttempt<'_>> {
        let secs = timeout.as_secs_f64();
        let got: Option<Option<i64>> = self
            .conn
            .exec_first(crate::sql::GET_LOCK, (name, secs))
            .with_context(|| format!("cannot take the advisory lock {name:?}"))?;
        match got.flatten() {
            Some(1) => {
                let idle = self.idle_timeout.as_secs().max(1);
                self.conn
                    .exec_drop(crate::sql::LOCK_IDLE_TIMEOUT, (idle,))
                    .context("cannot set wait_timeout on the connection that holds the lock")?;
                Ok(LockAttempt::Acquired(LockGuard { db: self, name: name.to_string() }))
            }
            Some(0) => {
                let holder: Option<Option<u64>> = self.conn.exec_first(crate::sql::IS_USED_LOCK, (name,))?;
                Ok(LockAttempt::Busy { holder: holder.flatten() })
            }
            other => bail!(
                "GET_LOCK({name:?}) returned {other:?}: the server could not take the lock (out of memory or killed?)"
            ),
        }
    }

    /// Takes the lock or fails with an error naming the holder's connection id.
    pub fn lock_or_fail(&mut self, name: &str, timeout: Duration, what: &str) -> Result<LockGuard<'_>> {
        match self.try_lock(name, timeout)? {
            LockAttempt::Acquired(g) => Ok(g),
            LockAttempt::Busy { holder } => bail!(
                "another {what} is running: the lock {name:?} is held by connection {} (see SHOW PROCESSLIST; wait for it or stop it)",
                holder.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into())
            ),
        }
    }
}

impl LockGuard<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Confirms the lock is still ours (the connection could have been replaced or killed).
    pub fn still_held(&mut self) -> Result<()> {
        let id = self.db.conn.connection_id() as u64;
        let holder: Option<Option<u64>> = self
            .db
            .conn
            .exec_first(crate::sql::IS_USED_LOCK, (self.name.as_str(),))
            .context("lost the connection that holds the advisory lock; stopping")?;
        if holder.flatten() != Some(id) {
            bail!("the advisory lock {:?} is no longer held by this run; stopping", self.name);
        }
        Ok(())
    }
}

impl Deref for LockGuard<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl DerefMut for LockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        self.db
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.db.conn.exec_drop(crate::sql::RELEASE_LOCK, (self.name.as_str(),)) {
            log::warn!(
                "could not release the advisory lock {:?}: {} (the server frees it when the connection closes)",
                self.name,
                error_text(&e)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// What part the server plays in replication, and whether it takes writes: facts that
// status reports and that every command which writes checks first.

/// How the server takes part in replication, as far as seqfix cares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Cluster {
    Standalone,
    Galera,
    GroupReplication {
        single_primary: bool,
    },
    Replica {
        source: String,
    },
    /// A replica that could not be checked (no REPLICATION CLIENT / SLAVE MONITOR privilege).
    Unknown {
        reason: String,
    },
}

fn mysql_code(e: &mysql::Error) -> Option<u16> {
    match e {
        mysql::Error::MySqlError(m) => Some(m.code),
        _ => None,
    }
}

/// True for 1, "1", "ON" and friends: how servers spell a boolean variable.
fn truthy(v: &mysql::Value) -> bool {
    match v {
        mysql::Value::Int(n) => *n != 0,
        mysql::Value::UInt(n) => *n != 0,
        mysql::Value::Bytes(b) => {
            matches!(String::from_utf8_lossy(b).to_ascii_uppercase().as_str(), "1" | "ON" | "YES")
        }
        _ => false,
    }
}

/// A system variable, or None when the server does not know it (error 1193).
fn variable(db: &mut Db, sql: &str) -> Result<Option<mysql::Value>> {
    match db.conn.query_first::<mysql::Value, _>(sql) {
        Ok(v) => Ok(v),
        Err(e) if mysql_code(&e) == Some(1193) => Ok(None),
        Err(e) => Err(e).context("cannot read a server variable"),
    }
}

/// Galera or Group Replication (`None`: neither), the two kinds of cluster whose nodes do
/// not share `GET_LOCK`: the one reading of `wsrep_on` and of the Group Replication mode,
/// for `status` and for each command's guards. Group Replication counts once the server is
/// in a group with an ONLINE member (the plugin may be loaded on a server that is in none).
pub fn node_cluster(db: &mut Db) -> Result<Option<Cluster>> {
    if variable(db, crate::sql::SERVER_WSREP_ON)?.map(|v| truthy(&v)).unwrap_or(false) {
        return Ok(Some(Cluster::Galera));
    }
    if let Some(single) = variable(db, crate::sql::SERVER_GROUP_REPLICATION_MODE)? {
        let members: Option<u64> = db.conn.query_first(crate::sql::SERVER_GROUP_REPLICATION_MEMBERS).unwrap_or(None);
        if members.unwrap_or(0) > 0 {
            return Ok(Some(Cluster::GroupReplication { single_primary: truthy(&single) }));
        }
    }
    Ok(None)
}

/// What a server limit on one transaction's write set counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteSetUnit {
    Rows,
    Bytes,
}

/// A server's limit on one transaction's write set: a batch whose write set is larger fails
/// at COMMIT (Galera: error 1180), every time it is retried.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteSetLimit {
    /// The system variable, e.g. `wsrep_max_ws_rows`.
    pub variable: &'static str,
    pub value: u64,
    pub unit: WriteSetUnit,
}

/// The write-set limits of this node's cluster: Galera's `wsrep_max_ws_rows` (0: none) and
/// `wsrep_max_ws_size`, Group Replication's `group_replication_transaction_size_limit` (0:
/// none). None on a standalone server or a replica, whose transactions have no such limit.
pub fn write_set_limits(db: &mut Db, cluster: Option<&Cluster>) -> Result<Vec<WriteSetLimit>> {
    let asked: &[(&'static str, &str, WriteSetUnit)] = match cluster {
        Some(Cluster::Galera) => &[
            ("wsrep_max_ws_rows", crate::sql::SERVER_WSREP_MAX_WS_ROWS, WriteSetUnit::Rows),
            ("wsrep_max_ws_size", crate::sql::SERVER_WSREP_MAX_WS_SIZE, WriteSetUnit::Bytes),
        ],
        Some(Cluster::GroupReplication { .. }) => &[(
            "group_replication_transaction_size_limit",
            crate::sql::SERVER_GROUP_REPLICATION_SIZE_LIMIT,
            WriteSetUnit::Bytes,
        )],
        _ => &[],
    };
    let mut limits = Vec::new();
    for (variable, sql, unit) in asked {
        let value = variable_u64(db, sql).with_context(|| format!("cannot read {variable}"))?;
        if let Some(value) = value.filter(|v| *v > 0) {
            limits.push(WriteSetLimit { variable, value, unit: *unit });
        }
    }
    Ok(limits)
}

/// A numeric system variable (None: unknown to the server).
fn variable_u64(db: &mut Db, sql: &str) -> Result<Option<u64>> {
    match variable(db, sql)? {
        None | Some(mysql::Value::NULL) => Ok(None),
        Some(v) => mysql::from_value_opt::<u64>(v.clone())
            .map(Some)
            .map_err(|_| anyhow!("the server answered {v:?}, not a number")),
    }
}

/// Whether the session's sql_mode has NO_BACKSLASH_ESCAPES: how a string literal is written
/// in a statement sent as text (`sql::inline`).
pub fn no_backslash_escapes(db: &mut Db) -> Result<bool> {
    let mode: Option<String> = db.conn.query_first(crate::sql::SERVER_SQL_MODE).context("cannot read the sql_mode")?;
    Ok(mode.unwrap_or_default().split(',').any(|m| m.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES")))
}

/// Galera, Group Replication, replica or standalone.
pub fn cluster_mode(db: &mut Db) -> Result<Cluster> {
    if let Some(cluster) = node_cluster(db)? {
        return Ok(cluster);
    }
    let sql = if db.server.has_show_replica_status() {
        crate::sql::SHOW_REPLICA_STATUS
    } else {
        crate::sql::SHOW_SLAVE_STATUS
    };
    match db.conn.query::<mysql::Row, _>(sql) {
        Ok(rows) if rows.is_empty() => Ok(Cluster::Standalone),
        Ok(rows) => {
            let row = &rows[0];
            let source = ["Source_Host", "Master_Host"]
                .iter()
                .find_map(|c| row.get_opt::<String, _>(*c).and_then(|r| r.ok()))
                .unwrap_or_else(|| "unknown".into());
            Ok(Cluster::Replica { source })
        }
        Err(e) if matches!(mysql_code(&e), Some(1227) | Some(1142)) => Ok(Cluster::Unknown {
            reason: "replica status not checked: the user lacks REPLICATION CLIENT (MySQL) or SLAVE MONITOR (MariaDB)"
                .into(),
        }),
        Err(e) => Err(e).context("cannot read the replica status"),
    }
}

// ---------------------------------------------------------------------------------------
// Galera: this node's view of the cluster (status judges it, migrate refuses or warns by
// it), and connections to every node for the checks and the lock that must be cluster-wide.

/// What a Galera node says about its cluster (`SHOW GLOBAL STATUS LIKE 'wsrep_%'`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GaleraNode {
    /// `wsrep_cluster_size`: nodes in this node's component.
    pub cluster_size: u64,
    /// `wsrep_cluster_status`: `Primary` when the component has quorum.
    pub cluster_status: String,
    /// `wsrep_local_state_comment`: `Synced`, or `Joining`, `Donor/Desynced`, `Joined`, ...
    pub local_state: String,
    /// `wsrep_flow_control_paused`: the fraction of time (0 to 1) replication was paused by
    /// flow control since the last `FLUSH STATUS`.
    pub flow_control_paused: f64,
    /// `wsrep_incoming_addresses`: every node's SQL address, sorted (arbitrators, which
    /// take no SQL, left out).
    pub addresses: Vec<String>,
}

impl GaleraNode {
    /// Builds the facts from the status rows (name, value); unknown names are ignored,
    /// missing ones read as empty or zero.
    pub fn from_status(rows: &[(String, String)]) -> GaleraNode {
        let get = |name: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut addresses: Vec<String> = get("wsrep_incoming_addresses")
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        addresses.sort();
        GaleraNode {
            cluster_size: get("wsrep_cluster_size").parse().unwrap_or(0),
            cluster_status: get("wsrep_cluster_status"),
            local_state: get("wsrep_local_state_comment"),
            flow_control_paused: get("wsrep_flow_control_paused").parse().unwrap_or(0.0),
            addresses,
        }
    }
}

/// This node's Galera facts, or `None` when the server is not a Galera node (wsrep_on off,
/// or a server without Galera).
pub fn galera_node(db: &mut Db) -> Result<Option<GaleraNode>> {
    if node_cluster(db)? != Some(Cluster::Galera) {
        return Ok(None);
    }
    let rows: Vec<(String, String)> =
        db.conn.query(crate::sql::SERVER_WSREP_STATUS).context("cannot read the Galera status (wsrep_%)")?;
    Ok(Some(GaleraNode::from_status(&rows)))
}

/// Splits a node's SQL address, `host:port` or `[v6]:port` (3306 when no port is given).
pub fn split_address(address: &str) -> Option<(String, u16)> {
    let a = address.trim();
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (host, p),
            None if after.is_empty() => (host, "3306"),
            None => return None,
        }
    } else {
        match a.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => return None,
            Some((h, p)) => (h, p),
            None => (a, "3306"),
        }
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// One node of a cluster, reached at its SQL address with the run's credentials.
pub struct Node {
    pub address: String,
    pub db: Db,
    /// The advisory lock this connection holds, released on drop.
    locked: Option<String>,
}

/// Connects to every address (`wsrep_incoming_addresses`), in the order given. The error
/// names the first node that could not be reached, and why.
pub fn connect_nodes(cfg: &DbConfig, addresses: &[String]) -> std::result::Result<Vec<Node>, (String, String)> {
    let mut nodes = Vec::new();
    for address in addresses {
        if address.eq_ignore_ascii_case("AUTO") {
            return Err((
                address.clone(),
                "the node could not tell its own SQL address: set wsrep_node_incoming_address = host:port on every node".into(),
            ));
        }
        let Some((host, port)) = split_address(address) else {
            return Err((address.clone(), "it is not a host:port address".into()));
        };
        match connect(&cfg.at(&host, port)) {
            Ok(db) => nodes.push(Node { address: address.clone(), db, locked: None }),
            Err(e) => return Err((address.clone(), crate::outcome::chain_text(&e))),
        }
    }
    Ok(nodes)
}

/// Takes the advisory lock `name` on every node, in the order given (callers sort the nodes,
/// so that two runs that both ask never hold a part each: the one that gets the first node
/// goes on, the other waits there). Each node's session keeps its share until it closes or
/// the nodes are dropped; it is idle meanwhile, so its `wait_timeout` is `keep` (a run that
/// dies closes it at once; TCP keepalive finds a vanished client).
pub fn lock_every_node(nodes: &mut [Node], name: &str, timeout: Duration, keep: Duration, what: &str) -> Result<()> {
    for node in nodes.iter_mut() {
        let busy = match node.db.try_lock(name, timeout)? {
            LockAttempt::Acquired(guard) => {
                // The node releases it on drop (`Node::drop`), after the run's work.
                std::mem::forget(guard);
                None
            }
            LockAttempt::Busy { holder } => Some(holder),
        };
        if let Some(holder) = busy {
            bail!(
                "another {what} is running: the lock {name:?} on node {} is held by connection {} there (a seqfix migrate holds it on every node of the cluster while it runs; see SHOW PROCESSLIST on that node; wait for it or stop it); nothing was changed",
                node.address,
                holder.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into())
            );
        }
        node.locked = Some(name.to_string());
        node.db
            .conn
            .exec_drop(crate::sql::SERVER_LOCK_SESSION_WAIT_TIMEOUT, (keep.as_secs().max(1),))
            .with_context(|| format!("cannot set wait_timeout on the lock's session on node {}", node.address))?;
    }
    Ok(())
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(name) = self.locked.take() {
            if let Err(e) = self.db.conn.exec_drop(crate::sql::RELEASE_LOCK, (name.as_str(),)) {
                log::warn!(
                    "could not release the advisory lock {name:?} on node {}: {} (the node frees it when the connection closes)",
                    self.address,
                    error_text(&e)
                );
            }
        }
    }
}

/// Refuses, before anything is written, a server that would refuse the writes or pass
/// them on wrongly: `read_only` / `super_read_only` / `transaction_read_only` on (a user
/// with SUPER could still write, on a server that was made read-only on purpose), or a
/// replica (its writes would not reach the primary and would break replication).
pub fn refuse_read_only(db: &mut Db, command: &str) -> Result<()> {
    let mut on: Vec<&str> = Vec::new();
    let (read_only, trx_read_only): (mysql::Value, mysql::Value) = db
        .conn
        .query_first(match db.server.flavor {
            Flavor::MariaDb => crate::sql::SERVER_READ_ONLY_MARIADB,
            Flavor::MySql => crate::sql::SERVER_READ_ONLY,
        })
        .context("cannot read the server's read_only settings")?
        .unwrap_or((mysql::Value::NULL, mysql::Value::NULL));
    if truthy(&read_only) {
        on.push("read_only");
    }
    if db.server.flavor == Flavor::MySql
        && variable(db, crate::sql::SERVER_SUPER_READ_ONLY)?.is_some_and(|v| truthy(&v))
    {
        on.push("super_read_only");
    }
    if truthy(&trx_read_only) {
        on.push(if db.server.flavor == Flavor::MariaDb { "tx_read_only" } else { "transaction_read_only" });
    }
    if !on.is_empty() {
        bail!(
            "the server at {} is read-only ({} on): seqfix {command} writes, so it runs on the primary; \
             point --database-url at it (nothing was changed)",
            db.display,
            on.join(", ")
        );
    }
    if let Cluster::Replica { source } = cluster_mode(db)? {
        bail!(
            "the server at {} is a replica of {source}: seqfix {command} writes, so it runs on the primary \
             (writes here would not reach it and would break replication; nothing was changed)",
            db.display
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_versions() {
        let m = ServerInfo::parse("10.11.19-MariaDB-0+deb12u1");
        assert_eq!((m.flavor, m.major, m.minor), (Flavor::MariaDb, 10, 11));
        assert!(m.has_show_replica_status());
        let old = ServerInfo::parse("5.5.5-10.4.32-MariaDB");
        assert_eq!((old.flavor, old.major, old.minor), (Flavor::MariaDb, 10, 4));
        assert!(!old.has_show_replica_status());
        let my = ServerInfo::parse("8.0.36");
        assert_eq!((my.flavor, my.major), (Flavor::MySql, 8));
        assert!(my.has_show_replica_status());
        assert!(!ServerInfo::parse("8.0.21").has_show_replica_status());
        assert!(ServerInfo::parse("8.0.22").has_show_replica_status());
        let debian = ServerInfo::parse("9.7.4-2");
        assert_eq!((debian.flavor, debian.major, debian.minor, debian.patch), (Flavor::MySql, 9, 7, 4));
        assert!(debian.has_show_replica_status());
    }

    #[test]
    fn galera_facts_come_from_the_status_rows() {
        let rows: Vec<(String, String)> = [
            ("wsrep_cluster_size", "3"),
            ("wsrep_cluster_status", "Primary"),
            ("wsrep_local_state_comment", "Donor/Desynced"),
            ("wsrep_flow_control_paused", "0.25"),
            ("wsrep_incoming_addresses", "127.0.0.1:3308,127.0.0.1:3306,,127.0.0.1:3307"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let g = GaleraNode::from_status(&rows);
        assert_eq!(g.cluster_size, 3);
        assert_eq!(g.cluster_status, "Primary");
        assert_eq!(g.local_state, "Donor/Desynced");
        assert_eq!(g.flow_control_paused, 0.25);
        // sorted, the arbitrator's empty entry left out: every node lists them in one order
        assert_eq!(g.addresses, ["127.0.0.1:3306", "127.0.0.1:3307", "127.0.0.1:3308"]);
        let empty = GaleraNode::from_status(&[]);
        assert_eq!((empty.cluster_size, empty.addresses.len(), empty.flow_control_paused), (0, 0, 0.0));
    }

    #[test]
    fn a_node_that_announces_no_address_is_named_with_the_fix() {
        let cfg = DbConfig::from_url("mysql://app@db1:3306/app", Duration::from_secs(1)).unwrap();
        for bad in ["AUTO", "db2:notaport"] {
            let Err((address, why)) = connect_nodes(&cfg, &["db1:3306".into(), bad.into()][1..]) else {
                panic!("{bad} connected")
            };
            assert_eq!(address, bad);
            assert!(why.contains(if bad == "AUTO" { "wsrep_node_incoming_address" } else { "host:port" }), "{why}");
        }
    }

    #[test]
    fn node_addresses_split_into_host_and_port() {
        assert_eq!(split_address("10.0.0.5:3307"), Some(("10.0.0.5".into(), 3307)));
        assert_eq!(split_address("db1.example"), Some(("db1.example".into(), 3306)));
        assert_eq!(split_address("[fe80::1]:3310"), Some(("fe80::1".into(), 3310)));
        assert_eq!(split_address("[::1]"), Some(("::1".into(), 3306)));
        for bad in ["", ":3306", "h:0", "h:x", "h:70000", "::1:3306", "[::1]x"] {
            assert_eq!(split_address(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dedupe_lock_names_fit_get_lock() {
        let t = Ident::new("table", "broadcast_messages").unwrap();
        assert_eq!(dedupe_lock_name("app", &t), "seqfix.dedupe.app.broadcast_messages");
        let long = dedupe_lock_name(&"d".repeat(64), &t);
        assert!(long.len() <= 64 && long.starts_with("seqfix.dedupe."), "{long}");
    }

    #[test]
    fn migrate_lock_names_fit_get_lock() {
        assert_eq!(migrate_lock_name("app"), "seqfix.migrate.app");
        let long = "d".repeat(64);
        assert!(migrate_lock_name(&long).len() <= 64);
        assert_ne!(migrate_lock_name(&long), migrate_lock_name(&"e".repeat(64)));
    }

    #[test]
    fn process_lock_names_fit_in_64_characters() {
        assert_eq!(process_lock_name("app"), "seqfix.process.app");
        let long = "d".repeat(64);
        let n = process_lock_name(&long);
        assert!(n.len() <= 64 && n.starts_with("seqfix.process."), "{n}");
        assert_eq!(n, process_lock_name(&long));
        assert_ne!(n, process_lock_name(&"e".repeat(64)));
    }

    #[test]
    fn status_knows_each_commands_lock() {
        assert_eq!(process_lock_name("app"), "seqfix.process.app");
        let t = Ident::new("table", "broadcast_messages").unwrap();
        assert_eq!(command_lock_name("process", "app", &t).as_deref(), Some("seqfix.process.app"));
        assert_eq!(command_lock_name("dedupe", "app", &t).as_deref(), Some("seqfix.dedupe.app.broadcast_messages"));
        assert_eq!(command_lock_name("migrate", "app", &t).as_deref(), Some("seqfix.migrate.app"));
        assert_eq!(command_lock_name("audit", "app", &t), None);
    }

    #[test]
    fn mysql_reads_connections_from_performance_schema() {
        assert_eq!(ServerInfo::parse("9.7.4-2").processlist().as_str(), "performance_schema.processlist");
        assert_eq!(ServerInfo::parse("10.11.19-MariaDB").processlist().as_str(), "information_schema.PROCESSLIST");
    }
}
