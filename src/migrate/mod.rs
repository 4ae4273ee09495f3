//! `seqfix migrate`: adds the unique index online, safely and idempotently, from the
//! migrations in `sql/migrations/`, recording each in `seqfix_schema_history`.
//!
//! Order of work for `up`: advisory lock (one migrate per database) → history read and
//! verified (`plan`) → schema check → for each migration: is its index already there? →
//! preflight (key length, duplicates, long transactions) → "started" row → the ALTER with a
//! short `lock_wait_timeout`, retried with backoff → "finished" row. Every check before the
//! "started" row is read-only, so a refusal changes nothing at all.
pub mod history;
pub mod plan;
pub mod preflight;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use serde::Serialize;

use crate::config::{Config, Ident};
use crate::db::{self, Db};
use crate::ledger::{self, RunStatus};
use crate::schema::{self, ColumnReq, Kind, TableInfo, UNIQUE_INDEX_NAME};
use plan::{Entry, IndexVerdict, Migration, State};
use preflight::{Check, CheckStatus, Trx, TrxWait};

/// What `migrate` needs of the messages table: the three key columns, indexable as they are.
pub const KEY_COLUMN_REQS: &[ColumnReq] = &[
    ColumnReq { name: "sequence_stepid", kind: Kind::ShortText, why: "for the unique index" },
    ColumnReq { name: "recipient_phone", kind: Kind::ShortText, why: "for the unique index" },
    ColumnReq { name: "device_id", kind: Kind::ShortText, why: "for the unique index" },
];

/// MySQL error codes the executor reacts to.
const ER_DUP_ENTRY: u16 = 1062;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_ALTER_OPERATION_NOT_SUPPORTED: u16 = 1845;
const ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: u16 = 1846;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Apply pending migrations.
    Up,
    /// Revert the last applied migration.
    Down,
    /// List applied and pending migrations.
    Status,
}

/// Checked options (no clap types here).
#[derive(Debug, Clone)]
pub struct Options {
    pub action: Action,
    pub dry_run: bool,
    pub yes: bool,
    pub max_trx_age: Duration,
    pub trx_wait: Duration,
    pub lock_wait_timeout: Duration,
    pub retries: u32,
    /// Run the exact duplicate check before building (one more full scan) instead of
    /// letting the build itself find duplicates.
    pub check_duplicates_first: bool,
}

/// One migration as the report shows it, after this run.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationLine {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub state: State,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub installed_by: Option<String>,
    pub host: Option<String>,
    pub execution_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub database: String,
    pub table: String,
    pub server: String,
    pub flavor: db::Flavor,
    pub action: Action,
    pub dry_run: bool,
    /// Applied by this run (the DDL ran).
    pub applied: Vec<u32>,
    /// Already in place before this run (recorded earlier, or found and recorded now).
    pub already_applied: Vec<u32>,
    /// Found in the schema without a history row (index created by hand, or an unfinished
    /// run whose DDL completed) and recorded as applied by this run.
    pub recorded: Vec<u32>,
    /// Not applied (after this run; for `--dry-run` and `--status`: what `migrate` would apply).
    pub pending: Vec<u32>,
    /// Reverted by `--down`.
    pub reverted: Vec<u32>,
    pub migrations: Vec<MigrationLine>,
    /// The name of the unique index on the three columns after this run, if there is one.
    pub unique_index: Option<String>,
    pub preflight: Vec<Check>,
    /// The statements run (or, with `--dry-run`, that would run), in order.
    pub sql: Vec<String>,
    pub long_transactions: Vec<Trx>,
    pub duplicate_groups: Option<u64>,
    pub surplus_rows: Option<u64>,
    /// ALTER attempts made (more than one after lock-wait timeouts).
    pub attempts: u32,
    pub preflight_ms: u64,
    pub build_ms: Option<u64>,
    pub notes: Vec<String>,
    /// Why the database is not in the state the migration needs (exit 1), in one line.
    pub refusal: Option<String>,
}

impl MigrateReport {
    fn new(db: &Db, table: &Ident, opts: &Options) -> MigrateReport {
        MigrateReport {
            database: db.database.clone(),
            table: table.to_string(),
            server: db.server.version.clone(),
            flavor: db.server.flavor,
            action: opts.action,
            dry_run: opts.dry_run,
            applied: vec![],
            already_applied: vec![],
            recorded: vec![],
            pending: vec![],
            reverted: vec![],
            migrations: vec![],
            unique_index: None,
            preflight: vec![],
            sql: vec![],
            long_transactions: vec![],
            duplicate_groups: None,
            surplus_rows: None,
            attempts: 0,
            preflight_ms: 0,
            build_ms: None,
            notes: vec![],
            refusal: None,
        }
    }
}

/// The advisory lock name for migrations of one database (GET_LOCK names are at most 64
/// characters; a longer one is shortened with a checksum of the database name).
pub fn lock_name(database: &str) -> String {
    let name = format!("seqfix.migrate.{database}");
    if name.len() <= 64 {
        name
    } else {
        format!("seqfix.migrate.{}", plan::checksum(database))
    }
}

/// Runs `migrate` as `opts` asks.
pub fn run(db: &mut Db, cfg: &Config, opts: &Options) -> Result<MigrateReport> {
    let table = &cfg.table;
    let mut report = MigrateReport::new(db, table, opts);
    if opts.action == Action::Status || opts.dry_run {
        // Read-only: no lock, nothing recorded.
        let (entries, info) = survey(db, table)?;
        match opts.action {
            Action::Status => {}
            Action::Up => up(db, table, opts, &entries, &info, &mut report, &mut None)?,
            Action::Down => down(db, table, opts, &entries, &info, &mut report, &mut None)?,
        }
        finish_lines(db, table, &mut report)?;
        return Ok(report);
    }
    let name = lock_name(&db.database);
    let mut guard = db.lock_or_fail(&name, opts.lock_wait_timeout, "seqfix migrate on this database")?;
    let db: &mut Db = &mut guard;
    let (entries, info) = survey(db, table)?;
    if opts.action == Action::Down {
        // Ask before anything is written, the ledger included.
        if let Some(e) = entries.iter().rev().find(|e| e.state == State::Applied) {
            crate::confirm::confirm(
                &format!(
                    "revert {} on {}.{}: drop the unique index, after which duplicate sequence messages can be queued again",
                    e.migration.label(),
                    db.database,
                    table
                ),
                opts.yes,
            )?;
        }
    }
    // The ledger row is written only once something is about to change, so a run refused by
    // the preflight leaves no trace at all.
    let mut run: Option<ledger::Run> = None;
    let result = match opts.action {
        Action::Up => up(db, table, opts, &entries, &info, &mut report, &mut run),
        Action::Down => down(db, table, opts, &entries, &info, &mut report, &mut run),
        Action::Status => unreachable!("handled above"),
    };
    if let Some(run) = run {
        let status = match &result {
            Ok(()) if report.refusal.is_none() => RunStatus::Succeeded,
            _ if crate::interrupt::requested() => RunStatus::Interrupted,
            _ => RunStatus::Failed,
        };
        let summary = serde_json::json!({
            "table": report.table, "action": report.action, "applied": report.applied,
            "already_applied": report.already_applied, "recorded": report.recorded, "reverted": report.reverted,
            "refusal": report.refusal, "error": result.as_ref().err().map(crate::error_line),
            "attempts": report.attempts, "build_ms": report.build_ms,
        });
        if let Err(e) = ledger::finish(&mut db.conn, &run, status, &summary) {
            log::warn!("{e:#}");
        }
    }
    result?;
    finish_lines(db, table, &mut report)?;
    Ok(report)
}

/// Records the run in the ledger before its first write (once).
fn begin(db: &mut Db, run: &mut Option<ledger::Run>) -> Result<()> {
    if run.is_none() {
        *run = Some(ledger::start(&mut db.conn, "migrate", &db.user)?);
    }
    Ok(())
}

/// Reads and verifies the history, and checks the table. Read-only.
fn survey(db: &mut Db, table: &Ident) -> Result<(Vec<Entry>, TableInfo)> {
    let history = history::load(db, table)?;
    let entries = plan::plan(&plan::embedded(), &history)?;
    let info = schema::check(db, table, KEY_COLUMN_REQS)?;
    Ok((entries, info))
}

fn present_index(info: &TableInfo) -> Option<String> {
    match plan::index_verdict(&info.indexes) {
        IndexVerdict::Present { name } => Some(name),
        _ => None,
    }
}

/// Fills the per-migration lines and the pending list from the history as it is now.
fn finish_lines(db: &mut Db, table: &Ident, report: &mut MigrateReport) -> Result<()> {
    report.unique_index = schema::describe(db, table)?.as_ref().and_then(present_index);
    let rows = history::load(db, table)?;
    report.migrations.clear();
    report.pending.clear();
    for m in plan::embedded() {
        let row = rows.iter().find(|r| r.version == m.version);
        let state = plan::state_of(row);
        // Pending: not applied after this run. A dry run changes nothing, so what it would
        // merely record (an index found in place) is not pending either.
        if state != State::Applied && !report.already_applied.contains(&m.version) {
            report.pending.push(m.version);
        }
        report.migrations.push(MigrationLine {
            version: m.version,
            name: m.name.to_string(),
            checksum: m.checksum(),
            state,
            started_at: row.map(|r| r.started_at.clone()),
            finished_at: row.and_then(|r| r.finished_at.clone()),
            installed_by: row.map(|r| r.installed_by.clone()),
            host: row.map(|r| r.host.clone()),
            execution_ms: row.and_then(|r| r.execution_ms),
            error: row.and_then(|r| r.error.clone()),
        });
    }
    if report.action == Action::Status {
        report.already_applied =
            report.migrations.iter().filter(|l| l.state == State::Applied).map(|l| l.version).collect();
    }
    Ok(())
}

fn up(
    db: &mut Db,
    table: &Ident,
    opts: &Options,
    entries: &[Entry],
    info: &TableInfo,
    report: &mut MigrateReport,
    run: &mut Option<ledger::Run>,
) -> Result<()> {
    for e in entries {
        let m = &e.migration;
        let verdict = plan::index_verdict(&info.indexes);
        if let IndexVerdict::Conflict { definition } = &verdict {
            bail!(
                "table {}.{} already has an index named {UNIQUE_INDEX_NAME} defined as {definition}, not UNIQUE (sequence_stepid, recipient_phone, device_id): seqfix will not replace it; drop or rename it (ALTER TABLE {} DROP INDEX {UNIQUE_INDEX_NAME}) and rerun",
                db.database,
                table,
                table.quoted()
            );
        }
        if let Some(row) = &e.row {
            match e.state {
                State::Unfinished => report.notes.push(format!(
                    "{} was started at {} by {} on {} and never finished (the process died during the DDL); {}",
                    m.label(),
                    row.started_at,
                    row.installed_by,
                    row.host,
                    if matches!(verdict, IndexVerdict::Present { .. }) {
                        "the index exists with the right definition, so it is recorded as applied"
                    } else {
                        "the index is not there, so the migration runs again"
                    }
                )),
                State::Failed => report.notes.push(format!(
                    "{} failed at {}: {}; it runs again",
                    m.label(),
                    row.finished_at.as_deref().unwrap_or("?"),
                    row.error.as_deref().unwrap_or("no error recorded")
                )),
                State::Applied if verdict == IndexVerdict::Absent => report.notes.push(format!(
                    "{} is recorded as applied at {} but the index is missing (dropped outside seqfix?); it runs again",
                    m.label(),
                    row.started_at
                )),
                _ => {}
            }
        }
        match (&verdict, e.state) {
            (IndexVerdict::Present { .. }, State::Applied) => {
                report.already_applied.push(m.version);
                continue;
            }
            (IndexVerdict::Present { name }, _) => {
                if name != UNIQUE_INDEX_NAME {
                    report.notes.push(format!(
                        "the unique index exists as `{name}` (created outside seqfix); {} is recorded as applied without building another",
                        m.label()
                    ));
                }
                if !opts.dry_run {
                    begin(db, run)?;
                    history::record_applied(db, table, m)?;
                }
                report.already_applied.push(m.version);
                report.recorded.push(m.version);
                continue;
            }
            _ => {}
        }
        let started = Instant::now();
        if !checks_pass(db, table, opts, info, report)? {
            report.preflight_ms = started.elapsed().as_millis() as u64;
            return Ok(());
        }
        report.preflight_ms = started.elapsed().as_millis() as u64;
        let sql = crate::sql::render(m.up, &[("table", table)]);
        report.sql.push(format!("SET SESSION lock_wait_timeout = {}", plan::whole_seconds(opts.lock_wait_timeout)));
        report.sql.push(sql.clone());
        if opts.dry_run {
            continue;
        }
        begin(db, run)?;
        history::start(db, table, m)?;
        let build = Instant::now();
        let result = run_ddl(db, &sql, opts, report);
        let ms = build.elapsed().as_millis() as u64;
        report.build_ms = Some(ms);
        match result {
            Ok(()) => {
                history::finish(db, table, m, ms, Ok(()))?;
                report.applied.push(m.version);
            }
            Err(err) => {
                let recorded = match db::server_error_code(&err) {
                    Some(ER_DUP_ENTRY) => format!("the build stopped at a duplicate: {}", server_message(&err)),
                    _ => crate::error_line(&err),
                };
                // If the connection itself is gone, the row stays unfinished (the next run settles
                // it from the schema); the DDL's error is the one to report.
                if let Err(e) = history::finish(db, table, m, ms, Err(recorded)) {
                    log::warn!("{e:#}");
                    return Err(err);
                }
                if db::server_error_code(&err) == Some(ER_DUP_ENTRY) {
                    report.refusal = Some(duplicate_refusal(db, table, &err, report)?);
                    return Ok(());
                }
                return Err(err);
            }
        }
    }
    Ok(())
}

/// The preflight for building the index. Returns false (with `report.refusal` set) when the
/// table is not ready; errors for problems the user must fix first.
fn checks_pass(
    db: &mut Db,
    table: &Ident,
    opts: &Options,
    info: &TableInfo,
    report: &mut MigrateReport,
) -> Result<bool> {
    report.preflight.push(Check::new(
        "table",
        CheckStatus::Pass,
        format!("InnoDB, key columns present ({})", info.row_format.as_deref().unwrap_or("row format unknown")),
    ));
    let key = plan::key_length(&info.columns, info.row_format.as_deref());
    if let Some(problem) = key.problem() {
        bail!(
            "the unique index cannot be built on {}.{}: {problem} (row format {}); shorten the columns or use ROW_FORMAT=DYNAMIC",
            db.database,
            table,
            info.row_format.as_deref().unwrap_or("unknown")
        );
    }
    report.preflight.push(Check::new(
        "key length",
        CheckStatus::Pass,
        format!("{} bytes (limits: {} per column, {} per index)", key.total, key.column_limit, key.index_limit),
    ));
    let redundant = plan::redundant_indexes(&info.indexes);
    if !redundant.is_empty() {
        report.notes.push(format!(
            "non-unique index(es) {} on the same columns become redundant once the unique index exists; consider dropping them afterwards",
            redundant.join(", ")
        ));
    }
    report.preflight.push(Check::new("existing index", CheckStatus::Pass, "none on these columns; it will be built"));

    if opts.dry_run || opts.check_duplicates_first {
        let dups = preflight::duplicates(db, table)?;
        report.surplus_rows = Some(dups.surplus_rows);
        report.duplicate_groups = Some(dups.groups);
        if dups.surplus_rows > 0 {
            let line = format!(
                "{} duplicate group(s) ({} surplus rows) remain in {}.{}; the unique index cannot be built until they are gone: run `seqfix dedupe` first (nothing was changed)",
                dups.groups, dups.surplus_rows, db.database, table
            );
            report.preflight.push(Check::new("duplicates", CheckStatus::Fail, line.clone()));
            report.refusal = Some(line);
            return Ok(false);
        }
        report.preflight.push(Check::new("duplicates", CheckStatus::Pass, "none"));
    } else {
        // The exact check costs a full scan, as much as the build itself; the build makes
        // the same check for free: it fails on the first duplicate with ER_DUP_ENTRY and the
        // server rolls it back, after which seqfix counts what remains and refuses.
        report.preflight.push(Check::new(
            "duplicates",
            CheckStatus::Deferred,
            "checked by the index build itself (it stops and rolls back at the first duplicate; --check-duplicates-first checks before building, at the cost of one more full scan)",
        ));
    }

    let wait = if opts.dry_run { Duration::ZERO } else { opts.trx_wait };
    let waited = if opts.dry_run {
        match preflight::long_transactions(db, opts.max_trx_age)? {
            None => Ok(TrxWait::NotVisible),
            Some(list) if list.is_empty() => Ok(TrxWait::Clear(Duration::ZERO)),
            Some(list) => {
                report.long_transactions = list;
                Err(())
            }
        }
    } else {
        Ok(preflight::wait_for_long_transactions(db, table, opts.max_trx_age, wait, |list| {
            log::warn!(
                "waiting for {} transaction(s) open longer than {} to end: {}",
                list.len(),
                humantime::format_duration(opts.max_trx_age),
                list.iter().map(Trx::describe).collect::<Vec<_>>().join("; ")
            )
        })?)
    };
    let limit = humantime::format_duration(opts.max_trx_age);
    match waited {
        Ok(TrxWait::Clear(d)) if d >= Duration::from_secs(1) => report.preflight.push(Check::new(
            "long transactions",
            CheckStatus::Pass,
            format!(
                "none open longer than {limit} (after waiting {})",
                humantime::format_duration(Duration::from_secs(d.as_secs()))
            ),
        )),
        Ok(TrxWait::Clear(_)) => report.preflight.push(Check::new(
            "long transactions",
            CheckStatus::Pass,
            format!("none open longer than {limit}"),
        )),
        Ok(TrxWait::NotVisible) => {
            let line = format!(
                "cannot list open transactions (INNODB_TRX needs the PROCESS privilege); relying on --lock-wait-timeout {} to give up quickly",
                humantime::format_duration(opts.lock_wait_timeout)
            );
            log::warn!("{line}");
            report.preflight.push(Check::new("long transactions", CheckStatus::Warn, line));
        }
        Err(()) => report.preflight.push(Check::new(
            "long transactions",
            CheckStatus::Warn,
            format!(
                "{} open longer than {limit}; a real run waits up to --trx-wait for them, then stops",
                report.long_transactions.len()
            ),
        )),
    }
    Ok(true)
}

/// Runs one DDL statement with the session's `lock_wait_timeout` set, retrying with backoff
/// when the metadata lock could not be had in time. Between attempts the statement holds
/// no lock, so the application's queries run.
fn run_ddl(db: &mut Db, sql: &str, opts: &Options, report: &mut MigrateReport) -> Result<()> {
    let secs = plan::whole_seconds(opts.lock_wait_timeout);
    db.conn.exec_drop(crate::sql::LOCK_WAIT_TIMEOUT, (secs,)).context("cannot set the session's lock_wait_timeout")?;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        report.attempts = attempt;
        let result = db.conn.query_drop(sql);
        let err = match result {
            Ok(()) => return Ok(()),
            Err(e) => anyhow::Error::new(e),
        };
        let code = db::server_error_code(&err);
        if code == Some(ER_LOCK_WAIT_TIMEOUT) && attempt <= opts.retries && !crate::interrupt::requested() {
            let pause = plan::backoff(attempt);
            log::info!(
                "the ALTER could not get the metadata lock on {} within {secs} s (attempt {attempt} of {}); retrying in {}",
                report.table,
                opts.retries + 1,
                humantime::format_duration(pause)
            );
            std::thread::sleep(pause);
            continue;
        }
        return Err(match code {
            Some(ER_LOCK_WAIT_TIMEOUT) => {
                let holders = match preflight::long_transactions(db, Duration::ZERO) {
                    Ok(Some(list)) if !list.is_empty() => format!(
                        "; open transactions: {}",
                        list.iter().take(3).map(Trx::describe).collect::<Vec<_>>().join("; ")
                    ),
                    _ => String::new(),
                };
                anyhow::anyhow!(
                    "the ALTER could not get the metadata lock on {}.{} within --lock-wait-timeout {secs} s in {attempt} attempt(s): another session holds it (a long transaction or another DDL){holders}; the application was never blocked longer than that; nothing was changed; rerun when it has finished, or raise --lock-wait-timeout / --retries",
                    report.database,
                    report.table
                )
            }
            Some(ER_ALTER_OPERATION_NOT_SUPPORTED | ER_ALTER_OPERATION_NOT_SUPPORTED_REASON) => err.context(format!(
                "the server cannot change {}.{} online (ALGORITHM=INPLACE, LOCK=NONE); nothing was changed",
                report.database, report.table
            )),
            _ => err.context(format!("the ALTER on {}.{} failed", report.database, report.table)),
        });
    }
}

/// The one-line refusal after the build stopped at a duplicate, with what remains now.
fn duplicate_refusal(db: &mut Db, table: &Ident, err: &anyhow::Error, report: &mut MigrateReport) -> Result<String> {
    let left = preflight::duplicates(db, table)?;
    report.surplus_rows = Some(left.surplus_rows);
    report.duplicate_groups = Some(left.groups);
    let found = server_message(err);
    let head = if left.surplus_rows > 0 {
        format!(
            "{} duplicate group(s) ({} surplus rows) remain in {}.{} (present before this run, or inserted while the index was being built), so the unique index could not be built ({found})",
            left.groups, left.surplus_rows, db.database, table
        )
    } else {
        format!(
            "a duplicate appeared in {}.{} while the index was being built ({found}) and is gone again",
            db.database, table
        )
    };
    Ok(format!(
        "{head}; the server rolled the build back, nothing was changed or lost; run `seqfix dedupe`{}, then `seqfix migrate`",
        if left.surplus_rows > 0 { " (again if it already ran)" } else { " if needed" }
    ))
}

/// The server's own message of an error, without our context.
fn server_message(err: &anyhow::Error) -> String {
    err.chain()
        .find_map(|e| match e.downcast_ref::<mysql::Error>() {
            Some(mysql::Error::MySqlError(m)) => Some(m.message.clone()),
            _ => None,
        })
        .unwrap_or_else(|| crate::error_line(err))
}

fn down(
    db: &mut Db,
    table: &Ident,
    opts: &Options,
    entries: &[Entry],
    info: &TableInfo,
    report: &mut MigrateReport,
    run: &mut Option<ledger::Run>,
) -> Result<()> {
    let Some(e) = entries.iter().rev().find(|e| e.state == State::Applied) else {
        report
            .notes
            .push(format!("no migration is recorded as applied to {}.{}; nothing to revert", db.database, table));
        return Ok(());
    };
    let m: &Migration = &e.migration;
    let named = info.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(UNIQUE_INDEX_NAME));
    if !named {
        if let Some(other) = present_index(info) {
            bail!(
                "the unique index on {}.{} is `{other}`, created outside seqfix: seqfix only drops the index it creates ({UNIQUE_INDEX_NAME}); drop it yourself (ALTER TABLE {} DROP INDEX `{other}`) if that is what you want",
                db.database,
                table,
                table.quoted()
            );
        }
    }
    let sql = crate::sql::render(m.down, &[("table", table)]);
    if named {
        report.sql.push(format!("SET SESSION lock_wait_timeout = {}", plan::whole_seconds(opts.lock_wait_timeout)));
        report.sql.push(sql.clone());
    } else {
        report.notes.push(format!("the index {UNIQUE_INDEX_NAME} is already gone; only the history row is removed"));
    }
    if opts.dry_run {
        report.reverted.push(m.version);
        return Ok(());
    }
    begin(db, run)?;
    if named {
        let started = Instant::now();
        run_ddl(db, &sql, opts, report)?;
        report.build_ms = Some(started.elapsed().as_millis() as u64);
    }
    history::delete(db, table, m)?;
    report.reverted.push(m.version);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_get_lock() {
        assert_eq!(lock_name("app"), "seqfix.migrate.app");
        let long = "d".repeat(64);
        assert!(lock_name(&long).len() <= 64);
        assert_ne!(lock_name(&long), lock_name(&"e".repeat(64)));
    }
}
