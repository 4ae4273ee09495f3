//! `seqfix dedupe`: delete the surplus copies of duplicate sequence messages in small,
//! archived, resumable batches while the application keeps writing.
//!
//! Two phases on the one connection that holds the advisory lock:
//! 1. **plan**: the shared read-only `scan` streams duplicate groups; each victim becomes a
//!    `PlanRow` (victim, survivor, key) written to an anonymous temporary file (and to
//!    `--plan-file`). Memory stays flat however large the table; the file holds only victims.
//!    Spooling rather than deleting while the scan streams keeps the scan's result set from
//!    sitting open for the whole run (the server drops a client that stops reading for
//!    `net_write_timeout`, which replica waits would exceed), and gives the progress bar and
//!    the confirmation the exact number of rows.
//! 2. **execute**: the plan is read back `--batch-size` rows at a time; each batch is one
//!    transaction (`execute_batch`): lock victims and survivors by primary key, re-check that
//!    each victim still shares its survivor's key (`decide`, pure), copy to the archive,
//!    delete, commit. A crash loses at most the open transaction, which the server rolls back;
//!    the next run's scan finds exactly the victims that are left.
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, TxOpts, Value};
use serde::{Deserialize, Serialize};

use crate::archive;
use crate::audit::{KeyCount, ReportHead, Tally};
use crate::config::{Config, DbConfig, Ident};
use crate::db::{self, Db};
use crate::ledger::{self, RunStatus};
use crate::progress::Progress;
use crate::replica::{self, Replica};
use crate::scan::ExactGroup;
use crate::schema::{self, TableInfo};
use crate::sql::{self, Fragment};
use crate::{confirm, interrupt, Outcome};

/// How many times a batch that hit a lock wait timeout or a deadlock is tried again.
pub const BATCH_RETRIES: u32 = 5;
/// Lock wait timeout of restore's batches (dedupe's is `--lock-wait-timeout`).
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 5;
/// How many examples (groups, skipped groups) the report keeps.
pub const EXAMPLES: usize = 10;

/// Everything `dedupe` needs besides the global `Config`, checked.
#[derive(Debug, Clone)]
pub struct Options {
    pub batch_size: usize,
    pub archive: Ident,
    pub dry_run: bool,
    pub plan_file: Option<PathBuf>,
    pub yes: bool,
    pub sleep: Duration,
    pub max_replica_lag: Duration,
    pub replicas: Vec<DbConfig>,
    pub lock_wait_timeout: Duration,
}

/// One victim of the plan: the row to delete, the row kept in its place, and the key they
/// share. Also the CSV record of `--plan-file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub victim_id: String,
    pub kept_id: String,
    pub sequence_stepid: String,
    pub recipient_phone: String,
    pub device_id: String,
}

/// The plan rows of one duplicate group, survivor first out.
pub fn plan_rows(g: &ExactGroup) -> impl Iterator<Item = PlanRow> + '_ {
    g.victims().iter().map(move |v| PlanRow {
        victim_id: v.id.clone(),
        kept_id: g.survivor().id.clone(),
        sequence_stepid: g.sequence_stepid.clone(),
        recipient_phone: g.recipient_phone.clone(),
        device_id: g.device_id.clone(),
    })
}

/// A group a batch left alone because its survivor is gone or no longer has the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedGroup {
    pub kept_id: String,
    pub sequence_stepid: String,
    pub recipient_phone: String,
    pub device_id: String,
    /// Victims of this batch left in place.
    pub rows_kept: u64,
    pub reason: String,
}

/// What a batch does with its plan rows, given what the locking read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// (victim, survivor) pairs to archive and delete.
    pub delete: Vec<(String, String)>,
    pub skipped: Vec<SkippedGroup>,
    /// Victims already gone (deleted by someone else or an earlier run).
    pub vanished: u64,
    /// Victims whose key changed, so they no longer duplicate their survivor.
    pub changed: u64,
}

/// Decides a batch. `locked` maps each id the locking read found to its key rank (rows
/// with equal ranks share the key under the collation; `None`: not a sequence message
/// any more). Never deletes a victim unless its survivor exists with the same key, so
/// the last copy of a message is never deleted. Pure.
pub fn decide(batch: &[PlanRow], locked: &HashMap<String, Option<u64>>) -> Decision {
    let mut d = Decision::default();
    let mut order: Vec<&str> = Vec::new();
    let mut by_kept: HashMap<&str, Vec<&PlanRow>> = HashMap::new();
    for r in batch {
        by_kept.entry(&r.kept_id).or_insert_with(|| {
            order.push(&r.kept_id);
            Vec::new()
        });
        by_kept.get_mut(r.kept_id.as_str()).unwrap().push(r);
    }
    for kept in order {
        let rows = &by_kept[kept];
        let skip = |reason: &str| SkippedGroup {
            kept_id: kept.to_string(),
            sequence_stepid: rows[0].sequence_stepid.clone(),
            recipient_phone: rows[0].recipient_phone.clone(),
            device_id: rows[0].device_id.clone(),
            rows_kept: rows.iter().filter(|r| locked.contains_key(&r.victim_id)).count() as u64,
            reason: reason.to_string(),
        };
        let key = match locked.get(kept) {
            None => {
                d.skipped.push(skip("the kept row no longer exists"));
                continue;
            }
            Some(None) => {
                d.skipped.push(skip("the kept row is no longer a sequence message"));
                continue;
            }
            Some(Some(k)) => *k,
        };
        let (mut present, mut changed) = (0, 0);
        for r in rows {
            match locked.get(&r.victim_id) {
                None => d.vanished += 1,
                Some(Some(k)) if *k == key => {
                    present += 1;
                    d.delete.push((r.victim_id.clone(), r.kept_id.clone()))
                }
                Some(_) => {
                    present += 1;
                    changed += 1
                }
            }
        }
        d.changed += changed;
        // No remaining copy shares the kept row's key any more: most likely the kept row
        // itself was changed. Report the group as skipped.
        if changed > 0 && changed == present {
            d.skipped.push(skip("the kept row's key changed"));
        }
    }
    d
}

/// Where a batch copies from and to.
#[derive(Debug, Clone)]
pub struct Target {
    pub table: Ident,
    pub archive: Ident,
    /// The source's columns, as the server reports them.
    pub columns: Vec<Ident>,
    pub run_id: String,
}

/// What one committed batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchResult {
    pub archived: u64,
    pub decision: Decision,
    /// Attempts beyond the first (lock wait timeouts, deadlocks).
    pub retries: u32,
    /// Time of the committed attempt, from START TRANSACTION to COMMIT.
    pub duration: Duration,
}

fn values(items: impl IntoIterator<Item = String>) -> Vec<Value> {
    items.into_iter().map(Value::from).collect()
}

/// Runs one batch as one transaction on `conn` (the connection holding the advisory lock).
/// Public so that tests can drive it with a plan whose rows they changed after planning.
pub fn execute_batch(conn: &mut Conn, target: &Target, batch: &[PlanRow]) -> Result<BatchResult> {
    let started = Instant::now();
    let mut tx = conn.start_transaction(TxOpts::default()).context("cannot start the batch transaction")?;
    let mut ids: Vec<String> = Vec::with_capacity(batch.len() * 2);
    let mut seen = std::collections::HashSet::new();
    for r in batch {
        for id in [&r.victim_id, &r.kept_id] {
            if seen.insert(id.as_str()) {
                ids.push(id.clone());
            }
        }
    }
    let lock = sql::render_parts(
        sql::DEDUPE_LOCK_BATCH,
        &[("table", &target.table)],
        &[("ids", &Fragment::placeholders(ids.len()))],
    );
    let rows: Vec<(String, i64, u64)> =
        tx.exec(lock, values(ids)).context("cannot lock the batch's rows (SELECT ... FOR UPDATE)")?;
    let locked: HashMap<String, Option<u64>> =
        rows.into_iter().map(|(id, not_seq, rank)| (id, (not_seq == 0).then_some(rank))).collect();
    let decision = decide(batch, &locked);
    let n = decision.delete.len();
    if n > 0 {
        let id_col = Ident::new("column", "id")?;
        let insert = sql::render_parts(
            sql::DEDUPE_ARCHIVE_BATCH,
            &[("table", &target.table), ("archive", &target.archive)],
            &[
                ("columns", &Fragment::columns(&target.columns)),
                ("kept_id", &Fragment::case_map(&id_col, n)),
                ("ids", &Fragment::placeholders(n)),
            ],
        );
        let mut params: Vec<Value> = vec![Value::from(target.run_id.as_str())];
        for (victim, kept) in &decision.delete {
            params.push(Value::from(victim.as_str()));
            params.push(Value::from(kept.as_str()));
        }
        params.extend(decision.delete.iter().map(|(v, _)| Value::from(v.as_str())));
        tx.exec_drop(insert, params).with_context(|| format!("cannot copy the batch into {}", target.archive))?;
        if tx.affected_rows() != n as u64 {
            bail!("archiving copied {} rows where {n} were locked; rolled back", tx.affected_rows());
        }
        let delete = sql::render_parts(
            sql::DEDUPE_DELETE_BATCH,
            &[("table", &target.table)],
            &[("ids", &Fragment::placeholders(n))],
        );
        tx.exec_drop(delete, values(decision.delete.iter().map(|(v, _)| v.clone())))
            .with_context(|| format!("cannot delete the batch from {}", target.table))?;
        if tx.affected_rows() != n as u64 {
            bail!("deleting removed {} rows where {n} were archived; rolled back", tx.affected_rows());
        }
    }
    tx.commit().context("cannot commit the batch")?;
    Ok(BatchResult { archived: n as u64, decision, retries: 0, duration: started.elapsed() })
}

/// `execute_batch`, tried again after a lock wait timeout (1205) or a deadlock (1213):
/// the server rolled the transaction back (we also drop it), so a retry starts clean.
pub fn execute_batch_with_retry(conn: &mut Conn, target: &Target, batch: &[PlanRow]) -> Result<BatchResult> {
    let mut attempt = 0;
    loop {
        match execute_batch(conn, target, batch) {
            Ok(mut r) => {
                r.retries = attempt;
                return Ok(r);
            }
            Err(e) if attempt < BATCH_RETRIES && matches!(db::server_error_code(&e), Some(1205 | 1213)) => {
                attempt += 1;
                log::warn!("batch hit {e:#}; retrying ({attempt}/{BATCH_RETRIES})");
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Per-batch transaction times, for the report (and the benchmarks that read it).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BatchTimes {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl BatchTimes {
    /// Nearest-rank percentiles. Pure.
    pub fn of(durations: &[Duration]) -> BatchTimes {
        if durations.is_empty() {
            return BatchTimes::default();
        }
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        BatchTimes { p50_ms: round(rank(0.50)), p99_ms: round(rank(0.99)), max_ms: round(ms[ms.len() - 1]) }
    }
}

/// A duplicate group as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupExample {
    pub sequence_stepid: String,
    pub recipient_phone: String,
    pub device_id: String,
    pub kept_id: String,
    pub victim_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DedupeReport {
    pub run_id: Option<String>,
    pub dry_run: bool,
    /// succeeded, interrupted or dry-run.
    pub status: String,
    pub database: String,
    pub table: String,
    pub archive_table: String,
    pub server: String,
    pub sequence_messages: u64,
    pub duplicate_groups: u64,
    /// Victims found by the scan (what a dry run would delete).
    pub surplus_rows: u64,
    pub deleted_rows: u64,
    pub archived_rows: u64,
    pub skipped_groups: u64,
    /// Victims left in place because their group was skipped.
    pub skipped_rows: u64,
    pub vanished_rows: u64,
    pub changed_rows: u64,
    pub batches: u64,
    pub batch_size: usize,
    pub batch_retries: u64,
    pub batch_times: BatchTimes,
    pub replica_wait_ms: u64,
    pub scan_ms: u64,
    pub elapsed_ms: u64,
    pub by_status: Vec<KeyCount>,
    pub examples: Vec<GroupExample>,
    pub skipped_examples: Vec<SkippedGroup>,
    pub near_duplicate_groups: u64,
    pub plan_file: Option<String>,
}

/// The advisory lock that keeps two dedupes (or a dedupe and a restore) off one table.
/// `GET_LOCK` names are limited to 64 characters; longer ones are shortened by a hash.
pub fn lock_name(database: &str, table: &Ident) -> String {
    let name = format!("seqfix.dedupe.{database}.{table}");
    if name.len() <= 64 {
        return name;
    }
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new();
    h.write(name.as_bytes());
    format!("seqfix.dedupe.{:016x}", h.finish())
}

/// What the plan phase learned.
struct Planned {
    report: crate::audit::AuditReport,
    spool: Option<File>,
    scan: Duration,
}

/// Phase 1: scan and write the victims to the spool and/or the plan file.
fn plan(db: &mut Db, cfg: &Config, info: &TableInfo, spool: bool, plan_file: Option<&PathBuf>) -> Result<Planned> {
    let started = Instant::now();
    let progress = Progress::bar(cfg.progress, "scanning (the server sorts first)", info.estimated_rows.max(1));
    let mut spool_w = if spool {
        Some(csv::Writer::from_writer(tempfile::tempfile().context("cannot create a temporary file for the plan")?))
    } else {
        None
    };
    let mut plan_w = match plan_file {
        Some(p) => {
            Some(csv::Writer::from_path(p).with_context(|| format!("cannot write the plan file {}", p.display()))?)
        }
        None => None,
    };
    let mut tally = Tally::new(EXAMPLES);
    let totals = crate::scan::scan(
        db,
        &cfg.table,
        false,
        |n| {
            if n % 4096 == 0 {
                progress.set(n)
            }
        },
        |near| {
            tally.add(&near);
            for g in near.groups.iter().filter(|g| g.is_duplicate()) {
                for row in plan_rows(g) {
                    if let Some(w) = spool_w.as_mut() {
                        w.serialize(&row).context("cannot write the plan to a temporary file")?;
                    }
                    if let Some(w) = plan_w.as_mut() {
                        w.serialize(&row).context("cannot write the plan file")?;
                    }
                }
            }
            Ok(())
        },
    )?;
    progress.finish();
    if let Some(mut w) = plan_w {
        w.flush().context("cannot write the plan file")?;
    }
    let spool = match spool_w {
        Some(w) => {
            let mut f = w.into_inner().map_err(|e| anyhow::anyhow!("cannot write the plan: {}", e.error()))?;
            f.seek(SeekFrom::Start(0))?;
            Some(f)
        }
        None => None,
    };
    let report = tally.finish(ReportHead {
        database: db.database.clone(),
        table: cfg.table.to_string(),
        server: db.server.version.clone(),
        sequence_messages: totals.sequence_messages,
        unique_index_name: None,
    });
    Ok(Planned { report, spool, scan: started.elapsed() })
}

fn base_report(db: &Db, cfg: &Config, opts: &Options, planned: &Planned) -> DedupeReport {
    let a = &planned.report;
    DedupeReport {
        run_id: None,
        dry_run: opts.dry_run,
        status: "dry-run".into(),
        database: db.database.clone(),
        table: cfg.table.to_string(),
        archive_table: opts.archive.to_string(),
        server: db.server.version.clone(),
        sequence_messages: a.sequence_messages,
        duplicate_groups: a.duplicate_groups,
        surplus_rows: a.surplus_rows,
        deleted_rows: 0,
        archived_rows: 0,
        skipped_groups: 0,
        skipped_rows: 0,
        vanished_rows: 0,
        changed_rows: 0,
        batches: 0,
        batch_size: opts.batch_size,
        batch_retries: 0,
        batch_times: BatchTimes::default(),
        replica_wait_ms: 0,
        scan_ms: planned.scan.as_millis() as u64,
        elapsed_ms: 0,
        by_status: a.by_status.clone(),
        examples: a
            .top_groups
            .iter()
            .map(|g| GroupExample {
                sequence_stepid: g.sequence_stepid.clone(),
                recipient_phone: g.recipient_phone.clone(),
                device_id: g.device_id.clone(),
                kept_id: g.survivor().id.clone(),
                victim_ids: g.victims().iter().map(|c| c.id.clone()).collect(),
            })
            .collect(),
        skipped_examples: Vec::new(),
        near_duplicate_groups: a.near_duplicates.groups,
        plan_file: opts.plan_file.as_ref().map(|p| p.display().to_string()),
    }
}

/// Checks, before anything changes, that the user may delete from the table: the probe
/// runs in a transaction that is rolled back.
fn probe_privileges(db: &mut Db, table: &Ident) -> Result<()> {
    let mut tx = db.conn.start_transaction(TxOpts::default())?;
    let probe = sql::render(sql::DEDUPE_PROBE_DELETE, &[("table", table)]);
    let result = tx.query_drop(probe);
    tx.rollback()?;
    result.map_err(|e| {
        anyhow::anyhow!(
            "user {} may not delete from {}.{table}: {e} (grant DELETE, plus INSERT and CREATE for the archive and the run ledger; nothing was changed)",
            db.user,
            db.database
        )
    })
}

/// Runs `dedupe`. Returns the report and how the run ended.
pub fn run(cfg: &Config, opts: &Options) -> Result<(DedupeReport, Outcome)> {
    let started = Instant::now();
    if opts.archive == cfg.table {
        bail!("--archive-table must differ from --table ({})", cfg.table);
    }
    let mut db = db::connect(&cfg.db)?;
    let info = schema::check(&mut db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    let columns = archive::copy_columns(&info)?;
    let archive_exists = archive::check_existing(&mut db, &info, &opts.archive)?;

    if opts.dry_run {
        let planned = plan(&mut db, cfg, &info, false, opts.plan_file.as_ref())?;
        let mut report = base_report(&db, cfg, opts, &planned);
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok((report, Outcome::Ok));
    }

    if !opts.yes && !confirm::can_ask() {
        confirm::confirm(&format!("delete duplicate sequence messages from {}.{}", db.database, cfg.table), false)?;
    }
    let mut replicas = Vec::new();
    for r in &opts.replicas {
        replicas.push(Replica::connect(r)?);
    }
    let database = db.database.clone();
    let mut guard = db.lock_or_fail(&lock_name(&database, &cfg.table), Duration::ZERO, "seqfix dedupe or restore")?;
    probe_privileges(&mut guard, &cfg.table)?;

    let planned = plan(&mut guard, cfg, &info, true, opts.plan_file.as_ref())?;
    let mut report = base_report(&guard, cfg, opts, &planned);
    report.dry_run = false;
    if report.surplus_rows > 0 {
        confirm::confirm(
            &format!(
                "delete {} surplus rows of {} duplicate groups from {}.{} (archiving them in {})",
                report.surplus_rows, report.duplicate_groups, database, cfg.table, opts.archive
            ),
            opts.yes,
        )?;
    }

    // From here on the database changes: the ledger first, so every later failure is recorded.
    let user = guard.user.clone();
    let run = ledger::start(&mut guard.conn, "dedupe", &user)?;
    report.run_id = Some(run.id.clone());
    let result = execute(
        &mut guard,
        cfg,
        opts,
        &info,
        columns,
        archive_exists,
        planned.spool,
        &mut replicas,
        &mut report,
        &run.id,
    );
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(outcome) => {
            report.status = if outcome == Outcome::Interrupted { "interrupted" } else { "succeeded" }.into();
            let status = if outcome == Outcome::Interrupted { RunStatus::Interrupted } else { RunStatus::Succeeded };
            ledger::finish(&mut guard.conn, &run, status, &report)?;
            Ok((report, outcome))
        }
        Err(e) => {
            report.status = "failed".into();
            if let Err(le) = ledger::finish(&mut guard.conn, &run, RunStatus::Failed, &report) {
                log::warn!("could not record the failure of run {} in seqfix_runs: {le:#}", run.id);
            }
            Err(e.context(format!(
                "dedupe run {} stopped after deleting {} rows (each archived; every committed batch is complete); run dedupe again to finish",
                run.id, report.deleted_rows
            )))
        }
    }
}

/// Phase 2: the batches.
#[allow(clippy::too_many_arguments)]
fn execute(
    db: &mut Db,
    cfg: &Config,
    opts: &Options,
    info: &TableInfo,
    columns: Vec<Ident>,
    archive_exists: bool,
    spool: Option<File>,
    replicas: &mut [Replica],
    report: &mut DedupeReport,
    run_id: &str,
) -> Result<Outcome> {
    if !archive_exists {
        archive::create(db, info, &opts.archive)?;
    }
    db.conn.query_drop(sql::BATCH_SESSION).context("cannot set the batch transactions' isolation level")?;
    db.conn
        .exec_drop(sql::BATCH_LOCK_WAIT, (opts.lock_wait_timeout.as_secs().max(1),))
        .context("cannot set innodb_lock_wait_timeout for the batches")?;
    interrupt::install();
    let target =
        Target { table: cfg.table.clone(), archive: opts.archive.clone(), columns, run_id: run_id.to_string() };
    let progress = Progress::bar(cfg.progress, "deleting", report.surplus_rows);
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(spool.context("no plan to execute")?));
    let mut times: Vec<Duration> = Vec::new();
    let mut batch: Vec<PlanRow> = Vec::with_capacity(opts.batch_size);
    let mut rows = reader.deserialize::<PlanRow>();
    let mut last_skipped: Option<String> = None;
    loop {
        batch.clear();
        for row in rows.by_ref().take(opts.batch_size) {
            batch.push(row.context("cannot read the plan back from its temporary file")?);
        }
        if batch.is_empty() {
            break;
        }
        if interrupt::requested() {
            return Ok(Outcome::Interrupted);
        }
        if !replicas.is_empty() {
            let waited = replica::wait_for(replicas, opts.max_replica_lag, &progress, interrupt::requested)?;
            report.replica_wait_ms += waited.as_millis() as u64;
            if interrupt::requested() {
                return Ok(Outcome::Interrupted);
            }
        }
        let r = execute_batch_with_retry(&mut db.conn, &target, &batch).with_context(|| {
            format!("batch {} ({} victims) failed and was rolled back", report.batches + 1, batch.len())
        })?;
        report.batches += 1;
        report.batch_retries += u64::from(r.retries);
        report.deleted_rows += r.archived;
        report.archived_rows += r.archived;
        report.vanished_rows += r.decision.vanished;
        report.changed_rows += r.decision.changed;
        for s in r.decision.skipped {
            report.skipped_rows += s.rows_kept;
            // A group cut by a batch boundary is counted once.
            if last_skipped.as_deref() != Some(s.kept_id.as_str()) {
                report.skipped_groups += 1;
                last_skipped = Some(s.kept_id.clone());
                if report.skipped_examples.len() < EXAMPLES {
                    report.skipped_examples.push(s);
                }
            }
        }
        times.push(r.duration);
        report.batch_times = BatchTimes::of(&times);
        progress.inc(batch.len() as u64);
        if !opts.sleep.is_zero() {
            let until = Instant::now() + opts.sleep;
            while Instant::now() < until && !interrupt::requested() {
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
            }
        }
    }
    progress.finish();
    Ok(if interrupt::requested() { Outcome::Interrupted } else { Outcome::Ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(victim: &str, kept: &str) -> PlanRow {
        PlanRow {
            victim_id: victim.into(),
            kept_id: kept.into(),
            sequence_stepid: "s".into(),
            recipient_phone: "60".into(),
            device_id: "d".into(),
        }
    }

    fn locked(rows: &[(&str, Option<u64>)]) -> HashMap<String, Option<u64>> {
        rows.iter().map(|(id, k)| (id.to_string(), *k)).collect()
    }

    #[test]
    fn deletes_victims_sharing_the_survivors_key() {
        let batch = [row("b", "a"), row("c", "a"), row("e", "d")];
        let d =
            decide(&batch, &locked(&[("a", Some(1)), ("b", Some(1)), ("c", Some(1)), ("d", Some(2)), ("e", Some(2))]));
        assert_eq!(d.delete, vec![("b".into(), "a".into()), ("c".into(), "a".into()), ("e".into(), "d".into())]);
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn never_deletes_when_the_survivor_is_gone() {
        let batch = [row("b", "a"), row("c", "a"), row("e", "d")];
        let d = decide(&batch, &locked(&[("b", Some(1)), ("c", Some(1)), ("d", Some(2)), ("e", Some(2))]));
        assert_eq!(d.delete, vec![("e".into(), "d".into())]);
        assert_eq!(d.skipped.len(), 1);
        assert_eq!((d.skipped[0].kept_id.as_str(), d.skipped[0].rows_kept), ("a", 2));
        let d = decide(&batch[..1], &locked(&[("a", None), ("b", Some(1))]));
        assert!(d.delete.is_empty());
        assert!(d.skipped[0].reason.contains("no longer a sequence message"));
    }

    #[test]
    fn vanished_and_changed_victims_are_left_alone() {
        let batch = [row("b", "a"), row("c", "a"), row("x", "a")];
        let d = decide(&batch, &locked(&[("a", Some(1)), ("b", Some(2))]));
        assert!(d.delete.is_empty());
        assert_eq!((d.vanished, d.changed), (2, 1));
        assert_eq!(d.skipped.len(), 1, "every remaining victim differs: the survivor's key changed");
        let d = decide(&batch, &locked(&[("a", Some(1)), ("b", Some(2)), ("c", Some(1))]));
        assert_eq!(d.delete, vec![("c".into(), "a".into())]);
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn percentiles() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        let t = BatchTimes::of(&ms(&[5, 1, 3, 2, 4]));
        assert_eq!((t.p50_ms, t.p99_ms, t.max_ms), (3.0, 5.0, 5.0));
        assert_eq!(BatchTimes::of(&[]), BatchTimes::default());
        let hundred: Vec<u64> = (1..=100).collect();
        let t = BatchTimes::of(&ms(&hundred));
        assert_eq!((t.p50_ms, t.p99_ms, t.max_ms), (50.0, 99.0, 100.0));
    }

    #[test]
    fn lock_names_fit_get_lock() {
        let t = Ident::new("table", "broadcast_messages").unwrap();
        assert_eq!(lock_name("app", &t), "seqfix.dedupe.app.broadcast_messages");
        let long = lock_name(&"d".repeat(64), &t);
        assert!(long.len() <= 64 && long.starts_with("seqfix.dedupe."), "{long}");
    }
}
