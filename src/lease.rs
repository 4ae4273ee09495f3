//! The cluster-wide lease: a row of `seqfix_leases` that lets one `seqfix process` run at a
//! time work (and one of `dedupe`, `restore` and `dedupe --empty-steps-to-null` per table),
//! whichever server or cluster node each run is pointed at. `GET_LOCK` cannot do that on
//! Galera or multi-primary Group Replication (it is local to one node); a row can, because
//! every node certifies writes to it in one order.
//!
//! - **Claim**: one transaction that reads the row `FOR UPDATE` (on Galera after
//!   `wsrep_sync_wait = 1`, so the read is the cluster's latest), decides with `verdict`, and
//!   takes it only if it is free, expired, or abandoned by a run on this node, adding one to
//!   its fence. Of two claims at once, the row lock (one server) or certification (a cluster)
//!   lets exactly one commit; the other gets a deadlock / certification error at some
//!   statement or at COMMIT, and has lost the race: it skips as if the lease were held.
//!   The claim's transaction is a `txn::BatchTx` (plain text and checked open on Galera), so
//!   an abort by another node's write cannot be lost there either.
//! - **Renewal**: every batch's transaction renews the lease with an update naming holder
//!   and fence (`renew_in`, sent as the batch's other statements are: `txn`) that must
//!   change exactly one row, or the batch is rolled back. A run whose lease expired or was
//!   claimed by another can therefore never commit a batch: the fence is what keeps two
//!   runs apart, not the clock.
//! - **Release**: at the end of the run the lease expires now; the row and its fence stay.
//!
//! Expiry is on the server's clock (`NOW(6)`); on a cluster each node uses its own, so
//! their clocks must agree to well under the lease's length (NTP does).
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use serde::Serialize;

use crate::db::Db;
use crate::ident::Ident;
use crate::sql;
use crate::txn::{BatchTx, Statements};

/// The lease `seqfix process` holds (one per database: the table lives in it).
pub const PROCESS: &str = "process";

/// The lease `dedupe`, `restore` and `dedupe --empty-steps-to-null` hold on `table` (one
/// name for the three: they move the same rows between the table and its archive), named
/// like their node-local lock: `seqfix.dedupe.<table>` (hashed past 64 characters).
pub fn dedupe_name(table: &Ident) -> String {
    crate::db::lock_name("dedupe", table.as_str())
}

/// How long the dedupe family's lease lasts from its claim and from each renewal: how long
/// a killed run blocks runs on other nodes (a run on the same node takes it over at once).
/// A run extends it after its plan and its waits (`Lease::extend`), and each batch renews
/// it, so only a single batch must be shorter.
pub const DEDUPE_SECONDS: u64 = 300;

/// Deadlock (also Galera's certification failure), lock wait timeout, and Group
/// Replication's rollback at commit: a claim that met one of these lost to another claim.
const LOST_RACE: [u16; 3] = [1213, 1205, 3101];
/// Unknown system variable: the server is not a Galera node.
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
const ER_DUP_ENTRY: u16 = 1062;

/// The lease row as a claim reads it (under its lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowState {
    pub holder: String,
    pub node: String,
    pub fence: u64,
    /// Claimed and not yet expired or released, on the server's clock.
    pub live: bool,
}

/// What a claim may do with the lease it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Never claimed, released, or expired: take it.
    Free,
    /// Live, held by a run on this node that no longer holds this node's advisory lock:
    /// its connection is gone (every holder keeps the node's `GET_LOCK` on its working
    /// connection for as long as it runs, and the server frees that lock when the
    /// connection ends). Take it without waiting for the expiry.
    Abandoned,
    /// Live and held by another run: leave it.
    Held,
}

/// The rule of a claim. `node` is this server as leases name it (`node_name`);
/// `node_lock_held` says this run holds the node's advisory lock. Should a node name be
/// shared by two servers by mistake, a wrong `Abandoned` only costs the other run its
/// lease (its next batch fails its fenced renewal and stops): the fence, not this rule,
/// keeps two runs from committing batches at once.
pub fn verdict(row: &RowState, node: &str, node_lock_held: bool) -> Verdict {
    if !row.live || row.holder.is_empty() {
        Verdict::Free
    } else if node_lock_held && row.node == node {
        Verdict::Abandoned
    } else {
        Verdict::Held
    }
}

/// A lease as `status` and the reports show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeaseView {
    pub name: String,
    /// The holder's id (a UUID per run); empty when never claimed.
    pub holder: String,
    /// The server the holder works on (`node_name`).
    pub node: String,
    /// The host the holder's seqfix runs on, and its process id.
    pub client_host: String,
    pub pid: u64,
    /// How many times the lease has been claimed, ever.
    pub fence: u64,
    /// Renewals since the last claim (one per batch).
    pub renewals: u64,
    /// Unix seconds of the last claim (server clock); None when never claimed.
    pub claimed: Option<i64>,
    /// Seconds until it expires (server clock): negative when expired or released, None
    /// when never claimed.
    pub expires_in_seconds: Option<f64>,
    /// Whether the lease is live now (claimed, not expired, not released).
    pub held: bool,
}

/// A lease this run holds.
#[derive(Debug, Clone)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub node: String,
    pub fence: u64,
    /// Each claim and renewal extends the lease by this much.
    pub seconds: u64,
}

/// The outcome of a claim.
#[derive(Debug)]
pub enum Claim {
    Won(Lease),
    /// Held by another run (as read), or lost to another claim at the same moment.
    Held(Option<LeaseView>),
}

/// Creates `seqfix_leases` if it is missing. Asked first, so that a run does not send a
/// `CREATE TABLE IF NOT EXISTS` every time (on Galera every DDL is replicated in total order).
pub fn ensure(conn: &mut Conn) -> Result<()> {
    if table_exists(conn)? {
        return Ok(());
    }
    conn.query_drop(sql::LEASE_CREATE)
        .context("cannot create the lease table seqfix_leases (does the user have CREATE privilege?)")
}

fn table_exists(conn: &mut Conn) -> Result<bool> {
    let n: Option<u64> = conn
        .exec_first(sql::STATUS_TABLE_EXISTS, ("seqfix_leases",))
        .context("cannot look up table seqfix_leases in information_schema")?;
    Ok(n.unwrap_or(0) > 0)
}

fn code(e: &mysql::Error) -> Option<u16> {
    match e {
        mysql::Error::MySqlError(m) => Some(m.code),
        _ => None,
    }
}

/// This server as leases name it: `host:port`, and on a Galera node its `wsrep_node_name`
/// first, as `node2 (db2:3306)`.
pub fn node_name(db: &mut Db) -> Result<String> {
    let addr: Option<String> = db.conn.query_first(sql::LEASE_NODE).context("cannot read the server's host name")?;
    let addr = addr.unwrap_or_default();
    if crate::db::node_cluster(db)? == Some(crate::db::Cluster::Galera) {
        let name: Option<String> =
            db.conn.query_first(sql::LEASE_WSREP_NODE_NAME).context("cannot read wsrep_node_name")?;
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            return Ok(format!("{name} ({addr})"));
        }
    }
    Ok(addr)
}

/// Runs `f` with `wsrep_sync_wait = 1` on the session where the variable exists (MariaDB;
/// on a server that is not a Galera node it changes nothing), then puts the old value back.
pub fn with_synced_reads<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
    let old: Option<u64> = match conn.query_first::<u64, _>(sql::LEASE_SYNC_WAIT) {
        Ok(v) => v,
        Err(e) if code(&e) == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => None,
        Err(e) => return Err(e).context("cannot read wsrep_sync_wait"),
    };
    let Some(old) = old else { return f(conn) };
    if old & 1 == 1 {
        return f(conn);
    }
    conn.exec_drop(sql::LEASE_SET_SYNC_WAIT, (old | 1,)).context("cannot set wsrep_sync_wait")?;
    let result = f(conn);
    let restored = conn.exec_drop(sql::LEASE_SET_SYNC_WAIT, (old,)).context("cannot restore wsrep_sync_wait");
    let value = result?;
    restored?;
    Ok(value)
}

/// Reads a lease (None: no table, or no row yet).
pub fn read(conn: &mut Conn, name: &str) -> Result<Option<LeaseView>> {
    if !table_exists(conn)? {
        return Ok(None);
    }
    type LeaseRow = (String, String, String, u64, u64, u64, Option<i64>, Option<i64>);
    let row: Option<LeaseRow> =
        conn.exec_first(sql::LEASE_READ, (name,)).context("cannot read the lease from seqfix_leases")?;
    Ok(row.map(|(holder, node, client_host, pid, fence, renewals, claimed, expires_in_us)| {
        let expires_in_seconds = expires_in_us.map(|us| us as f64 / 1e6);
        LeaseView {
            name: name.to_string(),
            held: !holder.is_empty() && expires_in_us.is_some_and(|us| us > 0),
            holder,
            node,
            client_host,
            pid,
            fence,
            renewals,
            claimed,
            expires_in_seconds,
        }
    }))
}

/// Claims lease `name` for `seconds`, trying again until `wait` has passed while another
/// run holds it (0: one try). `node_lock_held`: this run holds the node's advisory lock
/// (see `Verdict::Abandoned`). Creates the table and the row on first use.
pub fn claim(db: &mut Db, name: &str, seconds: u64, node_lock_held: bool, wait: Duration) -> Result<Claim> {
    ensure(&mut db.conn)?;
    let node = node_name(db)?;
    // The claim is a transaction like a batch: plain text and checked open on Galera.
    let statements = Statements::of(db)?;
    let holder = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + wait;
    loop {
        let attempt = with_synced_reads(&mut db.conn, |conn| {
            try_claim(conn, statements, name, &holder, &node, seconds, node_lock_held)
        })?;
        match attempt {
            Some(fence) => {
                log::info!("claimed the lease {name:?} (fence {fence}) on {node}");
                return Ok(Claim::Won(Lease { name: name.into(), holder, node, fence, seconds }));
            }
            None if Instant::now() >= deadline => {
                let view = with_synced_reads(&mut db.conn, |conn| read(conn, name))?;
                return Ok(Claim::Held(view));
            }
            None => std::thread::sleep((deadline - Instant::now()).min(Duration::from_millis(250))),
        }
    }
}

/// One claim: the fence won, or None when the lease is held or another claim won the race
/// (a deadlock or certification failure, or on Galera a transaction found no longer open).
fn try_claim(
    conn: &mut Conn,
    statements: Statements,
    name: &str,
    holder: &str,
    node: &str,
    seconds: u64,
    node_lock_held: bool,
) -> Result<Option<u64>> {
    let ctx = || format!("cannot claim the lease {name:?} in seqfix_leases");
    let exists: Option<u64> = conn.exec_first(sql::LEASE_EXISTS, (name,)).with_context(ctx)?;
    if exists.is_none() {
        match conn.exec_drop(sql::LEASE_INSERT, (name,)) {
            Ok(()) => {}
            Err(e) if matches!(code(&e), Some(c) if c == ER_DUP_ENTRY || LOST_RACE.contains(&c)) => {}
            Err(e) => return Err(e).with_context(ctx),
        }
    }
    let client_host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into());
    let result = (|| -> Result<Option<u64>> {
        let mut tx = BatchTx::start(conn, statements)?;
        let rows: Vec<(String, String, u64, i64)> = tx.read(sql::LEASE_LOCK, vec![Value::from(name)])?;
        let Some((held_by, held_on, fence, live)) = rows.into_iter().next() else { return Ok(None) };
        let state = RowState { holder: held_by, node: held_on, fence, live: live != 0 };
        match verdict(&state, node, node_lock_held) {
            Verdict::Held => return Ok(None),
            Verdict::Abandoned => log::warn!(
                "the lease {name:?} is held by run {} on this node, which no longer holds the node's lock \
                 (its connection is gone): taking it over",
                state.holder
            ),
            Verdict::Free => {}
        }
        let params = vec![
            Value::from(holder),
            Value::from(node),
            Value::from(client_host.as_str()),
            Value::from(std::process::id()),
            Value::from(seconds),
            Value::from(name),
            Value::from(fence),
        ];
        if tx.write(sql::LEASE_CLAIM, params)? != 1 {
            return Ok(None);
        }
        tx.commit()?;
        Ok(Some(fence + 1))
    })();
    match result {
        Ok(v) => Ok(v),
        Err(e)
            if matches!(crate::db::server_error_code(&e), Some(c) if LOST_RACE.contains(&c))
                || e.chain().any(|c| c.is::<crate::retry::TransactionLost>()) =>
        {
            log::info!("lost the race for the lease {name:?} to another claim ({})", crate::outcome::chain_text(&e));
            Ok(None)
        }
        Err(e) => Err(e).with_context(ctx),
    }
}

impl Lease {
    /// Renews the lease on `conn` (inside a batch's transaction, or on its own): exactly one
    /// row must change, or the lease is lost (expired, or another run claimed it) and the
    /// error says so; the caller's transaction is then dropped, which rolls it back.
    pub fn renew(&self, conn: &mut impl Queryable) -> Result<()> {
        let changed = conn
            .exec_iter(sql::LEASE_RENEW, (self.seconds, &self.name, &self.holder, self.fence))
            .map(|r| r.affected_rows())
            .with_context(|| format!("cannot renew the lease {:?} in seqfix_leases", self.name))?;
        if changed != 1 {
            return Err(anyhow::Error::new(LeaseLost { name: self.name.clone(), fence: self.fence, now: None }));
        }
        Ok(())
    }

    /// Renews the lease as the first statement of a batch transaction, sent as the batch
    /// sends its statements (plain text on Galera, `txn`): exactly one row must change, or
    /// the lease is lost and the error says so; the batch, dropped, rolls back.
    pub fn renew_in(&self, tx: &mut BatchTx<'_>) -> Result<()> {
        let params = vec![
            Value::from(self.seconds),
            Value::from(self.name.as_str()),
            Value::from(self.holder.as_str()),
            Value::from(self.fence),
        ];
        let changed = tx
            .write(sql::LEASE_RENEW, params)
            .with_context(|| format!("cannot renew the lease {:?} in seqfix_leases", self.name))?;
        if changed != 1 {
            return Err(anyhow::Error::new(LeaseLost { name: self.name.clone(), fence: self.fence, now: None }));
        }
        Ok(())
    }

    /// Extends the lease on its own, outside a batch, even when it expired meanwhile, as long
    /// as no other run claimed it since (the fence is the same): after a long plan, a
    /// confirmation or a wait for replicas. A lease another run claimed is lost.
    pub fn extend(&self, conn: &mut Conn) -> Result<()> {
        let changed = conn
            .exec_iter(sql::LEASE_EXTEND, (self.seconds, &self.name, &self.holder, self.fence))
            .map(|r| r.affected_rows())
            .with_context(|| format!("cannot extend the lease {:?} in seqfix_leases", self.name))?;
        if changed != 1 {
            return Err(anyhow::Error::new(LeaseLost { name: self.name.clone(), fence: self.fence, now: None }));
        }
        Ok(())
    }

    /// Releases the lease: it expires now (the row and its fence stay). A lease already lost
    /// is left as it is.
    pub fn release(&self, conn: &mut Conn) -> Result<()> {
        conn.exec_drop(sql::LEASE_RELEASE, (&self.name, &self.holder, self.fence))
            .with_context(|| format!("cannot release the lease {:?} in seqfix_leases", self.name))
    }

    /// The lease as the reports show it, as claimed.
    pub fn view(&self) -> LeaseView {
        LeaseView {
            name: self.name.clone(),
            holder: self.holder.clone(),
            node: self.node.clone(),
            client_host: hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into()),
            pid: u64::from(std::process::id()),
            fence: self.fence,
            renewals: 0,
            claimed: None,
            expires_in_seconds: Some(self.seconds as f64),
            held: true,
        }
    }
}

/// Claims lease `name` for a run that holds the node's advisory lock on `db` and stops,
/// rather than skips, when another run holds it: one line, the lock-held case's, naming
/// the holder, its node, fence and expiry. `what` names the commands that take the lease.
pub fn claim_or_fail(db: &mut Db, name: &str, seconds: u64, what: &str) -> Result<Lease> {
    match claim(db, name, seconds, true, Duration::ZERO)? {
        Claim::Won(lease) => Ok(lease),
        Claim::Held(Some(v)) if v.held => bail!(
            "another {what} is running: the lease {name:?} is {} (one such run at a time on all the nodes of a \
             cluster; wait for it or stop it)",
            describe(&v)
        ),
        Claim::Held(_) => bail!(
            "another {what} is running: it claimed the lease {name:?} at the same moment (one such run at a time on all \
             the nodes of a cluster; wait for it or stop it)"
        ),
    }
}

/// Runs `f` under `lease`, then releases the lease whatever `f` returned (a release that
/// fails is logged: the lease then expires by itself).
pub fn holding<G: std::ops::DerefMut<Target = Db>, T>(
    db: &mut G,
    lease: &Lease,
    f: impl FnOnce(&mut G) -> Result<T>,
) -> Result<T> {
    let result = f(db);
    if let Err(e) = lease.release(&mut db.conn) {
        log::warn!(
            "could not release the lease {:?} (fence {}): {}; it expires by itself in at most {}s",
            lease.name,
            lease.fence,
            crate::outcome::chain_text(&e),
            lease.seconds
        );
    }
    result
}

/// The error of a renewal that changed no row: this run no longer holds the lease.
#[derive(Debug, Clone)]
pub struct LeaseLost {
    pub name: String,
    pub fence: u64,
    /// Who holds the lease now (`describe`), when the run could read it after the loss.
    pub now: Option<String>,
}

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lease lost: the lease {:?} (fence {}) expired or another run claimed it, so this run stops; the batch \
             in progress was rolled back and nothing more is committed",
            self.name, self.fence
        )?;
        match &self.now {
            Some(now) => write!(f, " (the lease is now {now})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for LeaseLost {}

/// The lost lease in an error's chain, if that is what it is (as opposed to a failed
/// statement).
pub fn lost(err: &anyhow::Error) -> Option<&LeaseLost> {
    err.chain().find_map(|e| e.downcast_ref::<LeaseLost>())
}

/// One line on who holds a lease, for reports and status: holder, node, fence and expiry.
pub fn describe(v: &LeaseView) -> String {
    let expiry = match v.expires_in_seconds {
        Some(s) if v.held => format!("expires in {}", seconds(s)),
        Some(s) => format!("free since {} ago", seconds(-s)),
        None => "never claimed".into(),
    };
    if v.holder.is_empty() {
        return format!("free (never claimed, fence {})", v.fence);
    }
    let who = format!("run {} on {} (seqfix on {}, pid {}), fence {}", v.holder, v.node, v.client_host, v.pid, v.fence);
    if v.held {
        format!("held by {who}, {expiry}, renewed {} times", v.renewals)
    } else {
        format!("free: last held by {who}, {expiry}")
    }
}

fn seconds(s: f64) -> String {
    humantime::format_duration(Duration::from_secs(s.max(0.0).round() as u64)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(holder: &str, node: &str, live: bool) -> RowState {
        RowState { holder: holder.into(), node: node.into(), fence: 7, live }
    }

    #[test]
    fn a_lease_that_is_not_live_is_free_to_claim() {
        // Never claimed (no holder), released or expired: free, whoever asks.
        assert_eq!(verdict(&row("", "", false), "n1", false), Verdict::Free);
        assert_eq!(verdict(&row("r1", "n1", false), "n2", false), Verdict::Free);
        assert_eq!(verdict(&row("r1", "n1", false), "n1", true), Verdict::Free);
    }

    #[test]
    fn a_live_lease_is_held_unless_its_holder_left_this_node() {
        assert_eq!(verdict(&row("r1", "n1", true), "n2", true), Verdict::Held, "another node's holder");
        assert_eq!(verdict(&row("r1", "n1", true), "n2", false), Verdict::Held);
        // Same node, but this run does not hold the node's lock: the holder may be alive.
        assert_eq!(verdict(&row("r1", "n1", true), "n1", false), Verdict::Held);
        // Same node and this run holds the node's lock: the holder's connection is gone.
        assert_eq!(verdict(&row("r1", "n1", true), "n1", true), Verdict::Abandoned);
    }

    fn view(holder: &str, held: bool, expires: Option<f64>) -> LeaseView {
        LeaseView {
            name: PROCESS.into(),
            holder: holder.into(),
            node: "node2 (db2:3306)".into(),
            client_host: "cron1".into(),
            pid: 42,
            fence: 9,
            renewals: 3,
            claimed: Some(1_700_000_000),
            expires_in_seconds: expires,
            held,
        }
    }

    #[test]
    fn describes_holder_node_fence_and_expiry() {
        assert_eq!(
            describe(&view("r1", true, Some(61.4))),
            "held by run r1 on node2 (db2:3306) (seqfix on cron1, pid 42), fence 9, expires in 1m 1s, renewed 3 times"
        );
        assert_eq!(
            describe(&view("r1", false, Some(-5.0))),
            "free: last held by run r1 on node2 (db2:3306) (seqfix on cron1, pid 42), fence 9, free since 5s ago"
        );
        assert_eq!(describe(&view("", false, None)), "free (never claimed, fence 9)");
    }

    #[test]
    fn a_lost_lease_is_told_apart_from_other_errors() {
        let err =
            anyhow::Error::new(LeaseLost { name: PROCESS.into(), fence: 3, now: None }).context("batch after \"c9\"");
        assert_eq!(lost(&err).map(|l| l.fence), Some(3));
        assert!(format!("{err:#}").contains("lease lost: the lease \"process\" (fence 3)"), "{err:#}");
        assert!(lost(&anyhow::anyhow!("cannot insert messages")).is_none());
        let now = LeaseLost { name: PROCESS.into(), fence: 3, now: Some("held by run r2".into()) };
        assert!(now.to_string().ends_with("nothing more is committed (the lease is now held by run r2)"), "{now}");
    }
}
