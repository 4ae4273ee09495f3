//! `seqfix dedupe`: delete the surplus copies of duplicate sequence messages in small,
//! archived, resumable batches while the application keeps writing.
//!
//! Two phases on the one connection that holds the advisory lock:
//! 1. **plan**: the shared read-only `scan` streams duplicate groups; each victim becomes a
//!    `PlanRow` (victim, survivor, key), written to `--plan-file` in group order and pushed
//!    into an external sort by victim id (`by_victim`; runs in temporary files, so memory
//!    stays flat however large the table; the files hold only victims). Spooling rather
//!    than deleting while the scan streams keeps the scan's result set from sitting open
//!    for the whole run (the server drops a client that stops reading for
//!    `net_write_timeout`, which replica waits would exceed), and gives the progress bar
//!    and the confirmation the exact number of rows.
//! 2. **execute**: the plan is read back in primary-key order of the victims,
//!    `--batch-size` rows at a time, so consecutive batches touch neighbouring pages. Each
//!    batch is one transaction (`execute_batch`): lock victims and survivors by primary key,
//!    re-check that each victim still shares its survivor's key, copy to the archive,
//!    delete, commit. When nothing changed since the plan, one statement locks, re-checks
//!    and copies; otherwise the batch is redone with a locking read and `decide` (pure)
//!    first. The delete is joined to the archive and must remove exactly as many rows as
//!    were copied, else the batch rolls back; on Galera its statements are plain text and
//!    the transaction is checked to be open before COMMIT (`txn`), and the batch size is
//!    capped so a batch's write set fits the cluster's limits. A crash loses at most the
//!    open transaction, which the server rolls back; the next run's scan finds exactly the
//!    victims that are left.
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::TxOpts;
use serde::Serialize;

use crate::archive;
use crate::audit::{KeyCount, ReportHead, SurvivorSummary, Tally};
use crate::config::{Config, DbConfig};
use crate::db::{self, Db};
use crate::ident::Ident;
use crate::lease::{self, Lease};
use crate::ledger;
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::replica::{self, Replica};
use crate::schema::{self, TableInfo};
use crate::sql;
use crate::survivor::{Rule, Verdict};
use crate::{confirm, interrupt};

mod batch;
pub mod empty;
pub mod guards;
pub mod txn;
pub use batch::{
    by_victim, decide, execute_batch, execute_batch_with_retry, max_placeholders, plan_records, plan_rows,
    prepare_session, BatchResult, BatchTimes, Decision, Locked, PlanRecord, PlanRow, SkippedGroup, Target, NOW_UNKNOWN,
    OUTRANKED,
};

/// Lock wait timeout of restore's batches (dedupe's is `--lock-wait-timeout`).
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 5;
/// How many examples (groups, skipped groups) the report keeps.
pub const EXAMPLES: usize = 10;

/// Everything `dedupe` needs besides the global `Config`, checked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which copy of each group is kept, in the plan and again in every batch.
    pub rule: Rule,
    pub batch_size: usize,
    pub archive: Ident,
    pub dry_run: bool,
    pub plan_file: Option<PathBuf>,
    pub yes: bool,
    pub sleep: Duration,
    pub max_replica_lag: Duration,
    pub replicas: Vec<DbConfig>,
    pub lock_wait_timeout: Duration,
    /// `--empty-steps-to-null`: set empty steps to NULL (`empty`) instead of deduplicating.
    pub empty_steps_to_null: bool,
    /// `--allow-cascades`: go ahead although foreign keys or triggers would change other rows.
    pub allow_cascades: bool,
    /// `--mask-phones`: the plan file's phones masked too.
    pub mask_phones: bool,
}

/// A duplicate group as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupExample {
    pub sequence_stepid: String,
    pub recipient_phone: String,
    pub device_id: String,
    pub kept_id: String,
    pub kept_status: Option<String>,
    /// What made the rule keep that row: `status`, `oldest` or `smallest-id`.
    pub kept_because: String,
    pub victim_ids: Vec<String>,
}

/// `Default` is a report before any work: every count zero, nothing planned or run.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// Surplus rows found by the scan, in every duplicate group.
    pub surplus_rows: u64,
    /// The plan's victims (what a dry run would delete): the surplus rows less those of
    /// the groups the survivor rule leaves alone (`survivor.left_alone_rows`).
    pub planned_rows: u64,
    /// `--keep` and what it did with the groups (as `audit` reports it).
    pub survivor: SurvivorSummary,
    pub deleted_rows: u64,
    pub archived_rows: u64,
    pub skipped_groups: u64,
    /// Victims left in place because their group was skipped.
    pub skipped_rows: u64,
    pub vanished_rows: u64,
    pub changed_rows: u64,
    pub batches: u64,
    /// Batches redone with a locking read because a row changed since the plan.
    pub redone_batches: u64,
    /// The batch size used: `--batch-size`, or less when `batch_cap` lowered it.
    pub batch_size: usize,
    /// The write-set limit that lowered `--batch-size` (Galera, Group Replication), if any.
    pub batch_cap: Option<txn::BatchCap>,
    pub batch_retries: u64,
    pub batch_times: BatchTimes,
    pub replica_wait_ms: u64,
    pub scan_ms: u64,
    /// How the scan read the table (as in `audit`'s report).
    pub scan: crate::scan::ScanStats,
    pub elapsed_ms: u64,
    pub by_status: Vec<KeyCount>,
    pub examples: Vec<GroupExample>,
    pub skipped_examples: Vec<SkippedGroup>,
    pub near_duplicate_groups: u64,
    /// Rows whose step is the empty string: no sequence, left alone.
    pub empty_step_rows: u64,
    pub plan_file: Option<String>,
}

impl DedupeReport {
    /// Masks every phone (`mask::phone`): for `--mask-phones`.
    pub fn mask_phones(&mut self) {
        for g in &mut self.examples {
            g.recipient_phone = crate::mask::phone(&g.recipient_phone);
        }
        for s in &mut self.skipped_examples {
            s.recipient_phone = crate::mask::phone(&s.recipient_phone);
        }
        self.survivor.mask_phones();
    }

    /// A copy with the phones masked: what the run ledger stores.
    pub fn masked(&self) -> DedupeReport {
        let mut r = self.clone();
        r.mask_phones();
        r
    }
}

/// Largest batch the statements can take: about two bound values per victim, under the
/// server's 65,535 placeholders per statement (see `options::MAX_BATCH_SIZE`).
pub const MAX_BATCH_SIZE: u64 = 10_000;

/// Plan rows per run of the external sort held in memory (a few MB).
pub const PLAN_RUN_ROWS: usize = 20_000;

/// The plan's victims, sorted by `by_victim`.
type SortedPlan = extsort::SortedIterator<PlanRow, batch::PlanOrder>;

/// What the plan phase learned.
struct Planned {
    report: crate::audit::AuditReport,
    /// Victims written to the plan.
    victims: u64,
    spool: Option<SortedPlan>,
    /// The spool's private directory, removed when the plan is dropped.
    _spill: Option<tempfile::TempDir>,
    scan: Duration,
}

fn spool_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e)
        .context("cannot sort the plan in the temporary directory (set TMPDIR to a writable directory with free space)")
}

/// Phase 1: scan and write the victims to the spool (sorted) and/or the plan file.
fn plan(
    db: &mut Db,
    cfg: &Config,
    info: &TableInfo,
    rule: &Rule,
    spool: bool,
    plan_file: Option<&PathBuf>,
    mask_phones: bool,
) -> Result<Planned> {
    let started = Instant::now();
    let progress =
        Progress::bar(cfg.progress, &crate::scan::progress_message(&cfg.table.to_string()), info.estimated_rows);
    let spill = if spool { Some(crate::spill::dir("the plan")?) } else { None };
    let mut spool_w = spill.as_ref().map(|d| batch::plan_sorter(PLAN_RUN_ROWS, d.path()));
    // The plan file lists phones: created 0600.
    let mut plan_w = match plan_file {
        Some(p) => Some(csv::Writer::from_writer(
            crate::spill::private_file(p).with_context(|| format!("cannot write the plan file {}", p.display()))?,
        )),
        None => None,
    };
    let mut tally = Tally::new(EXAMPLES, rule);
    let mut victims = 0u64;
    // With the unique index in place exact copies cannot exist; the key-only scan is cheaper.
    let totals = crate::scan::scan(
        db,
        info,
        info.unique_key_index().is_some(),
        |n| progress.set_estimated(n),
        |mut near| {
            let verdicts = crate::audit::arrange(rule, &mut near);
            tally.add(&near, &verdicts);
            for (g, verdict) in near.groups.iter().zip(&verdicts).filter(|(g, _)| g.is_duplicate()) {
                // A group holding a status the rule does not rank is left alone (and
                // counted by the tally).
                let Verdict::Keep { reason, .. } = verdict else { continue };
                if let Some(w) = plan_w.as_mut() {
                    for mut record in plan_records(g, rule, *reason) {
                        if mask_phones {
                            record.recipient_phone = crate::mask::phone(&record.recipient_phone);
                        }
                        w.serialize(&record).context("cannot write the plan file")?;
                    }
                }
                for row in plan_rows(g) {
                    victims += 1;
                    if let Some(w) = spool_w.as_mut() {
                        w.push(row).map_err(spool_error)?;
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
    let spool = spool_w.map(|w| w.done()).transpose().map_err(spool_error)?;
    let mut report = tally.finish(ReportHead {
        database: db.database.clone(),
        table: cfg.table.to_string(),
        server: db.server.version.clone(),
        sequence_messages: totals.sequence_messages,
        unique_index_name: None,
    });
    report.empty_steps.rows = totals.empty_steps;
    report.scan = totals.stats;
    Ok(Planned { report, victims, spool, _spill: spill, scan: started.elapsed() })
}

fn base_report(db: &Db, cfg: &Config, opts: &Options, planned: &Planned) -> DedupeReport {
    let example = |g: &crate::scan::ExactGroup| match opts.rule.choose(&g.copies) {
        Verdict::Keep { reason, .. } => Some(GroupExample {
            sequence_stepid: g.sequence_stepid.clone(),
            recipient_phone: g.recipient_phone.clone(),
            device_id: g.device_id.clone(),
            kept_id: g.survivor().id.clone(),
            kept_status: g.survivor().status.clone(),
            kept_because: reason.as_str().to_string(),
            victim_ids: g.victims().iter().map(|c| c.id.clone()).collect(),
        }),
        // Left alone: listed in survivor.left_alone_examples instead.
        Verdict::Unknown { .. } => None,
    };
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
        planned_rows: planned.victims,
        survivor: a.survivor.clone(),
        batch_size: opts.batch_size,
        scan_ms: planned.scan.as_millis() as u64,
        scan: a.scan.clone(),
        by_status: a.by_status.clone(),
        examples: a.top_groups.iter().filter(|t| !t.left_alone).filter_map(|t| example(&t.group)).collect(),
        near_duplicate_groups: a.near_duplicates.groups,
        empty_step_rows: a.empty_steps.rows,
        plan_file: opts.plan_file.as_ref().map(|p| p.display().to_string()),
        ..DedupeReport::default()
    }
}

/// Checks, before anything changes, that the user may `verb` (delete, update) the table:
/// the probe `statement` runs in a transaction that is rolled back.
fn probe(db: &mut Db, table: &Ident, statement: &str, verb: &str) -> Result<()> {
    let mut tx = db.conn.start_transaction(TxOpts::default())?;
    let probe = sql::render(statement, &[("table", table)]);
    let result = tx.query_drop(probe);
    tx.rollback()?;
    result.map_err(|e| {
        anyhow::anyhow!(
            "user {} may not {verb} {}.{table}: {} (grant {}, plus INSERT and CREATE for the archive and the run ledger; nothing was changed)",
            db.user,
            db.database,
            crate::outcome::error_text(&e),
            verb.to_uppercase()
        )
    })
}

/// The commands that exclude each other on one table (node lock and lease), as the line
/// that says one is running names them.
pub const WHAT: &str = "seqfix dedupe or restore";

/// Runs `dedupe`. Returns the report and how the run ended.
pub fn run(cfg: &Config, opts: &Options) -> Result<(DedupeReport, Outcome)> {
    let started = Instant::now();
    if opts.archive == cfg.table {
        bail!("--archive-table must differ from --table ({})", cfg.table);
    }
    let mut db = db::connect(&cfg.db)?;
    let info = schema::check(&mut db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    // Fails early, before anything changes, on a table whose columns cannot be archived.
    archive::copy_columns(&info)?;
    let archive_exists = archive::check_existing(&mut db, &info, &opts.archive)?;
    // The cluster's facts, once per run: how the batches send their statements, and how
    // many victims fit one batch's write set (a dry run states the cap too).
    let server = txn::BatchServer::read(&mut db, &cfg.table)?;
    let (batch_size, batch_cap) = server.batch_size(opts.batch_size)?;
    if let Some(cap) = &batch_cap {
        log::info!("{cap}");
    }

    if opts.dry_run {
        let planned = plan(&mut db, cfg, &info, &opts.rule, false, opts.plan_file.as_ref(), opts.mask_phones)?;
        let mut report = base_report(&db, cfg, opts, &planned);
        report.batch_size = batch_size;
        report.batch_cap = batch_cap;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok((report, Outcome::Ok));
    }

    db::refuse_read_only(&mut db, "dedupe")?;
    guards::refuse_unless_allowed(&mut db, &cfg.table, guards::Change::Delete, opts)?;
    if !opts.yes && !confirm::can_ask() {
        confirm::confirm(&format!("delete duplicate sequence messages from {}.{}", db.database, cfg.table), false)?;
    }
    let mut replicas = Vec::new();
    for r in &opts.replicas {
        replicas.push(Replica::connect(r)?);
    }
    let database = db.database.clone();
    let mut guard =
        db.lock_or_fail(&db::dedupe_lock_name(&database, &cfg.table), Duration::ZERO, "seqfix dedupe or restore")?;
    probe(&mut guard, &cfg.table, sql::DEDUPE_PROBE_DELETE, "delete from")?;
    // The node's lock keeps runs on this node apart; the lease, the cluster's nodes.
    let lease = lease::claim_or_fail(&mut guard, &lease::dedupe_name(&cfg.table), lease::DEDUPE_SECONDS, WHAT)?;
    lease::holding(&mut guard, &lease, |guard| {
        let planned = plan(guard, cfg, &info, &opts.rule, true, opts.plan_file.as_ref(), opts.mask_phones)?;
        let mut report = base_report(guard, cfg, opts, &planned);
        report.dry_run = false;
        report.batch_size = batch_size;
        report.batch_cap = batch_cap;
        let batches = Batches { size: batch_size, statements: server.statements };
        if report.planned_rows > 0 {
            confirm::confirm(
                &format!(
                    "delete {} surplus rows of {} duplicate groups from {}.{} (archiving them in {}; survivors by --keep {})",
                    report.planned_rows,
                    report.duplicate_groups - report.survivor.left_alone_groups,
                    database,
                    cfg.table,
                    opts.archive,
                    opts.rule.name()
                ),
                opts.yes,
            )?;
        }

        // From here on the database changes: the ledger first, so every later failure is recorded.
        let outcome = ledger::recorded(guard, "dedupe", started, &mut report, |guard, report, run| {
            execute(
                guard,
                cfg,
                opts,
                batches,
                &lease,
                &info,
                archive_exists,
                planned.spool,
                &mut replicas,
                report,
                &run.id,
            )
        })?;
        Ok((report, outcome))
    })
}

impl ledger::Recorded for DedupeReport {
    fn run_fields(&mut self) -> ledger::RunFields<'_> {
        ledger::RunFields {
            id: &mut self.run_id,
            status: Some(&mut self.status),
            elapsed_ms: Some(&mut self.elapsed_ms),
        }
    }
    /// The ledger never keeps a phone number in the clear.
    fn summary(&self) -> impl Serialize {
        self.masked()
    }
    fn stopped(&self, run: &ledger::Run) -> Option<String> {
        Some(format!(
            "dedupe run {} stopped after deleting {} rows (each archived; every committed batch is complete); run dedupe again to finish",
            run.id, self.deleted_rows
        ))
    }
}

/// How phase 2 runs its batches on this server.
#[derive(Debug, Clone, Copy)]
struct Batches {
    /// Victims per batch (`--batch-size`, capped by the write-set limits).
    size: usize,
    statements: txn::Statements,
}

/// Phase 2: the batches.
#[allow(clippy::too_many_arguments)]
fn execute(
    db: &mut Db,
    cfg: &Config,
    opts: &Options,
    batches: Batches,
    lease: &Lease,
    info: &TableInfo,
    archive_exists: bool,
    spool: Option<SortedPlan>,
    replicas: &mut [Replica],
    report: &mut DedupeReport,
    run_id: &str,
) -> Result<Outcome> {
    if report.planned_rows == 0 {
        return Ok(Outcome::Ok);
    }
    if !archive_exists {
        archive::create(db, info, &opts.archive)?;
    }
    crate::dedupe::prepare_session(&mut db.conn, opts.lock_wait_timeout.as_secs())?;
    interrupt::install();
    // The plan and the confirmation may have outlasted the lease: extended now (unless
    // another run claimed it meanwhile), then renewed by every batch.
    lease.extend(&mut db.conn)?;
    let target = Target::new(info, opts.archive.clone(), run_id, opts.rule.clone())?
        .with_statements(batches.statements)
        .with_lease(lease.clone());
    let progress = Progress::bar(cfg.progress, "deleting", report.planned_rows);
    let mut times: Vec<Duration> = Vec::new();
    let mut batch: Vec<PlanRow> = Vec::with_capacity(batches.size);
    let mut rows = spool.context("no plan to execute")?;
    // Kept ids of the groups skipped so far: a group's victims may fall into several batches.
    let mut skipped_groups: HashSet<String> = HashSet::new();
    loop {
        batch.clear();
        for row in rows.by_ref().take(batches.size) {
            batch.push(row.map_err(spool_error)?);
        }
        if batch.is_empty() {
            break;
        }
        if interrupt::requested() {
            return Ok(Outcome::Interrupted);
        }
        if !replicas.is_empty() {
            // The lock's connection is silent while we wait: ping it, so that the server's
            // wait_timeout (--idle-timeout) never closes it under us.
            let mut pinged = Instant::now();
            let waited = replica::wait_for(replicas, opts.max_replica_lag, &progress, || {
                if pinged.elapsed() >= Duration::from_secs(5) {
                    // The lease too: a lost one stops the next batch at its renewal.
                    if let Err(e) = lease.extend(&mut db.conn) {
                        log::warn!("{}", crate::outcome::chain_text(&e));
                    }
                    pinged = Instant::now();
                }
                interrupt::requested()
            })?;
            report.replica_wait_ms += waited.as_millis() as u64;
            if interrupt::requested() {
                return Ok(Outcome::Interrupted);
            }
        }
        let r = execute_batch_with_retry(&mut db.conn, &target, &batch).with_context(|| {
            format!("batch {} ({} victims) failed and was rolled back", report.batches + 1, batch.len())
        })?;
        report.batches += 1;
        report.redone_batches += u64::from(r.redone);
        report.batch_retries += u64::from(r.retries);
        report.deleted_rows += r.archived;
        report.archived_rows += r.archived;
        report.vanished_rows += r.decision.vanished;
        report.changed_rows += r.decision.changed;
        for s in r.decision.skipped {
            report.skipped_rows += s.rows_kept;
            // A group whose victims fell into several batches is counted once.
            if skipped_groups.insert(s.kept_id.clone()) {
                report.skipped_groups += 1;
                if report.skipped_examples.len() < EXAMPLES {
                    report.skipped_examples.push(s);
                }
            }
        }
        times.push(r.duration);
        report.batch_times = BatchTimes::of(&times);
        progress.inc(batch.len() as u64);
        interrupt::pause(opts.sleep);
    }
    progress.finish();
    Ok(if interrupt::requested() { Outcome::Interrupted } else { Outcome::Ok })
}
