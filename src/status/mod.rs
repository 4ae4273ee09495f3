//! `seqfix status`: is this database healthy? Read-only; each check says ok, warn or fail
//! with a one-line detail. A check that cannot be made (a missing table, a missing
//! privilege) says so instead of aborting the whole report: an on-call engineer wants the
//! rest of the answer.
//!
//! What fails the status (exit 1): the unique index missing, duplicate groups present, a
//! failed migration, the last run of a command failed or died without finishing, contacts
//! overdue; on Galera, a node that is not Synced or a component that is not Primary. What
//! only warns: a replica, pending migrations, an interrupted last run, a check skipped, Galera
//! flow control pauses. Who holds the lease of `seqfix process` is information, never a failure.
use std::time::Duration;

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use serde::Serialize;

use crate::config::Config;
pub use crate::db::{cluster_mode, Cluster};
use crate::db::{Db, Flavor, GaleraNode};
use crate::ident::Ident;
use crate::schema;

mod judge;
pub use judge::{classify_cluster, classify_run, galera_checks, migrations_of};

/// A `running` run older than this, whose lock seqfix cannot check, has died without finishing.
pub const RUN_DEAD_AFTER: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Warn,
    Fail,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warn => "warn",
            State::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub state: State,
    pub detail: String,
}

pub(crate) fn check(name: &str, state: State, detail: impl Into<String>) -> Check {
    Check { name: name.into(), state, detail: detail.into() }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastRun {
    pub command: String,
    pub run_id: String,
    pub status: String,
    pub host: String,
    pub pid: u64,
    pub db_user: String,
    /// Unix seconds.
    pub started: i64,
    pub finished: Option<i64>,
    pub age_seconds: i64,
    /// For a `running` run: whether its command's lock is free (None: not known).
    pub lock_free: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LockHolder {
    pub connection_id: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    /// Seconds the holder's current statement (or idle state) has lasted.
    pub time_seconds: Option<u64>,
}

/// Migrations recorded as failed or half-done, and those not applied yet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Migrations {
    pub pending: Vec<String>,
    pub failed: Vec<String>,
    /// False when `seqfix_schema_history` does not exist (then pending is inferred from the index).
    pub history: bool,
    /// Why `seqfix migrate` would refuse this history (`migrate::plan`'s error), if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub healthy: bool,
    pub database: String,
    pub table: String,
    pub server: String,
    pub flavor: Flavor,
    pub cluster: Cluster,
    /// A Galera node's view of its cluster: size, quorum, its own state, flow control.
    pub galera: Option<GaleraNode>,
    /// None when the table does not exist.
    pub unique_index: Option<bool>,
    /// None when not checked.
    pub duplicate_groups: Option<u64>,
    pub surplus_rows: Option<u64>,
    pub migrations: Option<Migrations>,
    pub last_runs: Vec<LastRun>,
    /// Who holds this node's advisory lock of `seqfix process` (a run on this node only).
    pub process_lock: Option<LockHolder>,
    /// The cluster-wide lease of `seqfix process`, the same whichever node is asked (read
    /// with `wsrep_sync_wait` on Galera). None when no run has created it yet.
    pub process_lease: Option<crate::lease::LeaseView>,
    /// The cluster-wide lease `dedupe`, `restore` and `dedupe --empty-steps-to-null` hold
    /// on the table (`lease::dedupe_name`), read like the process lease. None when no run
    /// has claimed it yet.
    pub dedupe_lease: Option<crate::lease::LeaseView>,
    pub overdue_contacts: Option<u64>,
    pub stale_after_seconds: u64,
    pub checks: Vec<Check>,
}

/// Options of one status run.
#[derive(Debug, Clone)]
pub struct Options {
    pub stale_after: Duration,
    pub skip_duplicates: bool,
}

pub fn table_exists(db: &mut Db, name: &str) -> Result<bool> {
    let n: Option<u64> = db
        .conn
        .exec_first(crate::sql::STATUS_TABLE_EXISTS, (name,))
        .with_context(|| format!("cannot look up table {name} in information_schema"))?;
    Ok(n.unwrap_or(0) > 0)
}

/// Which migrations are pending or failed, as `seqfix migrate` sees them: the history read
/// by `migrate::history` and judged by `migrate::plan` (`judge::migrations_of`). Without
/// `seqfix_schema_history`, the unique-index migration is pending unless the index exists
/// already. `None` when the history cannot be read.
pub fn pending_migrations(db: &mut Db, table: &Ident, index_present: bool) -> Result<Option<Migrations>> {
    let embedded = crate::migrate::plan::embedded();
    if !table_exists(db, "seqfix_schema_history")? {
        let pending = if index_present { vec![] } else { embedded.iter().map(|m| m.version.to_string()).collect() };
        return Ok(Some(Migrations { pending, failed: vec![], history: false, problem: None }));
    }
    let history = match crate::migrate::history::load(db, table) {
        Ok(h) => h,
        Err(e) => {
            log::warn!("cannot read seqfix_schema_history: {}", crate::outcome::chain_text(&e));
            return Ok(None);
        }
    };
    Ok(Some(migrations_of(&embedded, &history)))
}

/// What `status` found about the messages table, its index and its duplicates.
struct TableFindings {
    exists: bool,
    index: Option<String>,
    duplicate_groups: Option<u64>,
    surplus_rows: Option<u64>,
}

/// Runs every check.
pub fn run(db: &mut Db, cfg: &Config, opts: &Options) -> Result<StatusReport> {
    let mut checks = vec![check(
        "server",
        State::Ok,
        format!("{} ({}) at {}", db.server.version, db.server.flavor.name(), db.display),
    )];

    let cluster = cluster_mode(db)?;
    checks.push(classify_cluster(&cluster));
    let galera = galera_facts(db, &cluster)?;
    checks.extend(galera.iter().flat_map(galera_checks));

    let found = table_findings(db, cfg, opts, &mut checks)?;

    let migrations = pending_migrations(db, &cfg.table, found.index.is_some())?;
    checks.push(judge::migrations_check(migrations.as_ref()));

    let process_lease =
        crate::lease::with_synced_reads(&mut db.conn, |c| crate::lease::read(c, crate::lease::PROCESS))?;
    let dedupe_lease = crate::lease::with_synced_reads(&mut db.conn, |c| {
        crate::lease::read(c, &crate::lease::dedupe_name(&cfg.table))
    })?;
    let leases = Leases { process: process_lease.as_ref(), dedupe: dedupe_lease.as_ref() };
    let last_runs = if table_exists(db, "seqfix_runs")? { last_runs_of(db, &cfg.table, leases)? } else { Vec::new() };
    if last_runs.is_empty() {
        checks.push(check("last_run", State::Ok, "no runs recorded in seqfix_runs"));
    }
    checks.extend(last_runs.iter().map(classify_run));

    let process_lock = lock_holder(db, &crate::db::process_lock_name(&db.database))?;
    checks.push(judge::lock_check(process_lease.as_ref(), process_lock.as_ref()));
    checks.push(judge::dedupe_lease_check(dedupe_lease.as_ref()));

    let overdue = overdue_contacts(db, opts.stale_after)?;
    checks.push(judge::overdue_check(overdue, opts.stale_after));

    Ok(StatusReport {
        healthy: checks.iter().all(|c| c.state != State::Fail),
        database: db.database.clone(),
        table: cfg.table.to_string(),
        server: db.server.version.clone(),
        flavor: db.server.flavor,
        cluster,
        galera,
        unique_index: found.exists.then_some(found.index.is_some()),
        duplicate_groups: found.duplicate_groups,
        surplus_rows: found.surplus_rows,
        migrations,
        last_runs,
        process_lock,
        process_lease,
        dedupe_lease,
        overdue_contacts: overdue.map(|(n, _)| n),
        stale_after_seconds: opts.stale_after.as_secs(),
        checks,
    })
}

/// What a Galera node says about its cluster (`None` on any other server).
fn galera_facts(db: &mut Db, cluster: &Cluster) -> Result<Option<GaleraNode>> {
    if *cluster != Cluster::Galera {
        return Ok(None);
    }
    crate::db::galera_node(db)
}

/// The `unique_index` and `duplicates` checks. Duplicates are cheap when the index exists
/// (none can exist); otherwise the one scan pass counts them, unless `--skip-duplicates`.
fn table_findings(db: &mut Db, cfg: &Config, opts: &Options, checks: &mut Vec<Check>) -> Result<TableFindings> {
    let table = &cfg.table;
    let Some(info) = schema::describe(db, table)? else {
        let missing = format!("table {}.{table} does not exist (check --table)", db.database);
        checks.push(check("unique_index", State::Fail, missing.clone()));
        checks.push(check("duplicates", State::Fail, missing));
        return Ok(TableFindings { exists: false, index: None, duplicate_groups: None, surplus_rows: None });
    };
    let index = info.unique_key_index().map(|ix| ix.name.clone());
    let mut found = TableFindings { exists: true, index: index.clone(), duplicate_groups: None, surplus_rows: None };
    match &index {
        Some(name) => {
            checks.push(check(
                "unique_index",
                State::Ok,
                format!("present ({name}) on (sequence_stepid, recipient_phone, device_id)"),
            ));
            found.duplicate_groups = Some(0);
            found.surplus_rows = Some(0);
            checks.push(check("duplicates", State::Ok, "none: the unique index rules them out"));
        }
        None => {
            checks.push(check(
                "unique_index",
                State::Fail,
                "missing: duplicates can be inserted again (run `seqfix dedupe`, then `seqfix migrate`)",
            ));
            if opts.skip_duplicates {
                checks.push(check("duplicates", State::Warn, "not checked (--skip-duplicates)"));
            } else {
                match count_duplicates(db, cfg) {
                    Ok((groups, surplus)) => {
                        found.duplicate_groups = Some(groups);
                        found.surplus_rows = Some(surplus);
                        checks.push(judge::duplicates_check(groups, surplus));
                    }
                    Err(e) => checks.push(check("duplicates", State::Fail, crate::outcome::error_line(&e))),
                }
            }
        }
    }
    Ok(found)
}

/// Overdue contacts and the oldest due time, or None when the tables do not exist.
fn overdue_contacts(db: &mut Db, stale_after: Duration) -> Result<Option<(u64, Option<i64>)>> {
    if !(table_exists(db, "sequence_contacts")? && table_exists(db, "sequences")?) {
        return Ok(None);
    }
    let row: Option<(u64, Option<i64>)> = db
        .conn
        .exec_first(crate::sql::STATUS_OVERDUE_CONTACTS, (stale_after.as_secs(),))
        .context("cannot count overdue contacts in sequence_contacts")?;
    Ok(Some(row.unwrap_or((0, None))))
}

/// The full scan (`scan::scan`), counting only.
fn count_duplicates(db: &mut Db, cfg: &Config) -> Result<(u64, u64)> {
    let info = schema::check(db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    let (mut groups, mut surplus) = (0u64, 0u64);
    crate::scan::scan(
        db,
        &info,
        false,
        |_| {},
        |near| {
            for g in near.groups.iter().filter(|g| g.is_duplicate()) {
                groups += 1;
                surplus += g.victims().len() as u64;
            }
            Ok(())
        },
    )?;
    Ok((groups, surplus))
}

/// The cluster-wide leases as `status` read them.
#[derive(Clone, Copy)]
struct Leases<'a> {
    process: Option<&'a crate::lease::LeaseView>,
    dedupe: Option<&'a crate::lease::LeaseView>,
}

/// The latest run of each command; a `running` one is checked against its lock: its lease
/// once it has one (cluster-wide: `process`'s, and `dedupe`'s for dedupe and restore), the
/// command's advisory lock otherwise.
fn last_runs_of(db: &mut Db, table: &Ident, leases: Leases<'_>) -> Result<Vec<LastRun>> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(String, String, String, u64, String, String, i64, Option<i64>, i64)> =
        db.conn.query(crate::sql::STATUS_LAST_RUNS).context("cannot read the run ledger seqfix_runs")?;
    let this_node = crate::lease::node_name(db)?;
    let mut runs = Vec::new();
    for (run_id, command, host, pid, db_user, status, started, finished, age_seconds) in rows {
        let mut status = status;
        let lease = match command.as_str() {
            "process" => leases.process,
            "dedupe" | "restore" => leases.dedupe,
            _ => None,
        };
        let lock_free = match (status.as_str(), crate::db::command_lock_name(&command, &db.database, table)) {
            ("running", Some(name)) if lease.is_some_and(|l| !l.holder.is_empty()) => {
                // Every such run holds the lease from before its row is written until
                // after it is closed; the lease, unlike the node's lock, is the cluster's.
                // A live lease claimed on this node whose holder no longer has this node's
                // lock is a run whose connection is gone (the claim's `Abandoned` rule).
                let live = lease.is_some_and(|l| l.held);
                let local = lock_holder(db, &name)?.is_some();
                let here = lease.is_some_and(|l| l.node == this_node);
                Some(!local && (!live || here))
            }
            ("running", Some(name)) => Some(lock_holder(db, &name)?.is_none()),
            _ => None,
        };
        if lock_free == Some(true) {
            // Every run writes and closes its row while holding its lock: free lock and a
            // row still `running` means its process or connection died, unless it closed
            // the row between the two reads.
            let now: Option<String> = db
                .conn
                .exec_first(crate::sql::STATUS_RUN_STATUS, (run_id.as_str(),))
                .context("cannot read the run ledger seqfix_runs")?;
            if let Some(now) = now {
                status = now;
            }
        }
        runs.push(LastRun { command, run_id, status, host, pid, db_user, started, finished, age_seconds, lock_free });
    }
    Ok(runs)
}

/// Who holds an advisory lock: `IS_USED_LOCK` gives the connection id, the process list
/// its user and host when this user may see them.
pub fn lock_holder(db: &mut Db, name: &str) -> Result<Option<LockHolder>> {
    let id: Option<Option<u64>> = db
        .conn
        .exec_first(crate::sql::IS_USED_LOCK, (name,))
        .with_context(|| format!("cannot ask the server who holds the lock {name:?}"))?;
    let Some(connection_id) = id.flatten() else { return Ok(None) };
    let query =
        crate::sql::render_parts(crate::sql::STATUS_LOCK_HOLDER, &[], &[("processlist", &db.server.processlist())]);
    let who: Option<(Option<String>, Option<String>, Option<u64>)> =
        db.conn.exec_first(query, (connection_id,)).unwrap_or(None);
    let (user, host, time_seconds) = who.unwrap_or((None, None, None));
    Ok(Some(LockHolder { connection_id, user, host, time_seconds }))
}
