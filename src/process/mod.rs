//! `seqfix process`: one cron-safe pass of sequence processing. The database decides who
//! runs: a cluster-wide lease (`lease`: a fenced row of `seqfix_leases`, renewed inside every
//! batch's transaction, so a run that lost it can commit nothing), the node's advisory lock
//! on the working connection (which also tells a dead holder on the same node from a live
//! one), a minimum interval read from the run ledger with the server's clock under the
//! lease, and the unique index that makes each message insert atomic. The pass is
//! set-based: one snapshot of the due contacts and of their first leads per run, then per
//! batch one read, a pure classification (`plan`) and one transaction holding the messages,
//! the contacts' progress and the log rows together (`txn`: plain text statements, checked
//! open, on Galera).
//!
//! Layout: `plan` (the rules and other pure decisions, unit-tested), `guards` (the checks
//! before any work), `batch` (one batch: read, classify, apply in a transaction), and here
//! the run itself: guards, lock, lease, interval, snapshot, batches, ledger, release.
mod batch;
mod guards;
pub mod plan;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::Conn;
use serde::Serialize;

use crate::config::Config;
use crate::db::{Db, LockAttempt, LockGuard};
use crate::lease::{self, Claim, Lease, LeaseView};
use crate::ledger;
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::retry;
use crate::sql;
use crate::txn::Statements;

pub use plan::{plan, Candidate, Decision, DeviceRow, StepRow};

use guards::Tables;

/// What the pass was asked to do (checked values; no clap types).
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    pub batch_size: usize,
    pub limit: Option<u64>,
    /// Whole seconds until a contact's next step is due.
    pub step_interval_secs: u64,
    pub lock_timeout: Duration,
    pub min_interval: Duration,
    /// How long the lease lasts from its claim and from each batch's renewal.
    pub lease_seconds: u64,
    /// `--allow-node-local-lock`: deprecated, does nothing but warn (the lease works on
    /// every node).
    pub allow_node_local_lock: bool,
    pub allow_without_index: bool,
    /// How the batch transactions send their statements (`txn`); None: as the server
    /// calls for (plain text, checked open, on a Galera node; prepared elsewhere).
    pub statements: Option<Statements>,
}

/// Why a run did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Another run holds the lease (or, on this node, the advisory lock), or won the race
    /// to claim it.
    Locked,
    MinInterval,
}

/// How often one failed message is put back to `pending` before seqfix gives the step up.
pub const MAX_REQUEUES: u64 = 3;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub already_queued: u64,
    /// Steps whose message existed as `failed`: put back to `pending` in place (the
    /// application's duplicate check ignores failed copies and sends again).
    pub requeued: u64,
    /// Steps whose failed message was re-queued `MAX_REQUEUES` times already: left failed,
    /// the contact advances (see the log's `requeue_limit` rows).
    pub requeue_limit: u64,
    pub completed: u64,
    pub no_step: u64,
    pub no_lead: u64,
    pub device_offline: u64,
    /// Contacts another writer changed between the batch's read and its lock: left untouched
    /// for the next pass.
    pub changed: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.queued += o.queued;
        self.already_queued += o.already_queued;
        self.requeued += o.requeued;
        self.requeue_limit += o.requeue_limit;
        self.completed += o.completed;
        self.no_step += o.no_step;
        self.no_lead += o.no_lead;
        self.device_offline += o.device_offline;
        self.changed += o.changed;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    /// The ledger's run id; null for skipped and dry runs.
    pub run_id: Option<String>,
    pub database: String,
    pub table: String,
    /// The node's advisory lock (`GET_LOCK`), taken before the lease.
    pub lock_name: String,
    /// True when this run held the lease (and the node's lock): it may have written.
    pub lock_acquired: bool,
    /// Connection id holding the node's advisory lock when it was busy (a run on this node).
    pub lock_holder: Option<u64>,
    /// The cluster-wide lease: this run's when it won it, the holder's when it was skipped
    /// (null when it could not be read: no lease table yet).
    pub lease: Option<LeaseView>,
    pub lease_seconds: u64,
    pub skipped: Option<Skip>,
    /// Seconds since the last processing run started (server clock), when known.
    pub last_run_seconds_ago: Option<f64>,
    pub dry_run: bool,
    /// True when the unique index is missing and `--allow-without-index` was given: the
    /// lease is then the only guard against duplicates.
    pub without_index: bool,
    pub guard: String,
    /// Due contacts in this pass's snapshot (after --limit).
    pub due: u64,
    pub batches: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub interrupted: bool,
    pub elapsed_seconds: f64,
}

impl ledger::Recorded for ProcessReport {
    /// The report says how the pass ended by `interrupted` (and by the error).
    fn run_fields(&mut self) -> ledger::RunFields<'_> {
        ledger::RunFields { id: &mut self.run_id, status: None, elapsed_ms: None }
    }
    fn summary(&self) -> impl Serialize {
        self
    }
}

/// Runs the guards, then the pass. Errors before the lock change nothing.
pub fn run(db: &mut Db, cfg: &Config, opts: &Options) -> Result<ProcessReport> {
    let started = Instant::now();
    let t = Tables::new(&cfg.table)?;
    let has_index = guards::check_schema(db, &t)?;
    if !opts.dry_run {
        crate::db::refuse_read_only(db, "process")?;
    }
    guards::check_privileges(db, &t, opts.dry_run)?;
    guards::check_cluster(db, opts.allow_node_local_lock)?;
    if !has_index && !opts.allow_without_index {
        bail!(
            "table {}.{} has no unique index on (sequence_stepid, recipient_phone, device_id): without it two runs \
             can queue the same message; run `seqfix migrate` to add it (or pass --allow-without-index to rely on \
             the lease alone)",
            db.database,
            t.messages
        );
    }
    guards::tune_session(&mut db.conn, db.server.flavor)?;
    // After the session's settings: text statements are written for its sql_mode.
    let statements = match opts.statements {
        Some(s) => s,
        None => Statements::of(db)?,
    };
    let opts = &Options { statements: Some(statements), ..opts.clone() };
    let name = crate::db::process_lock_name(&db.database);
    let mut report = ProcessReport {
        run_id: None,
        database: db.database.clone(),
        table: t.messages.to_string(),
        lock_name: name.clone(),
        lock_acquired: false,
        lock_holder: None,
        lease: None,
        lease_seconds: opts.lease_seconds,
        skipped: None,
        last_run_seconds_ago: None,
        dry_run: opts.dry_run,
        without_index: !has_index,
        guard: if has_index {
            "unique index and lease".into()
        } else {
            "lease only (no unique index: run `seqfix migrate`)".into()
        },
        due: 0,
        batches: 0,
        counts: Counts::default(),
        interrupted: false,
        elapsed_seconds: 0.0,
    };
    let holder = match db.try_lock(&name, opts.lock_timeout)? {
        LockAttempt::Acquired(lock) => return locked(lock, cfg, &t, opts, has_index, started, report),
        LockAttempt::Busy { holder } => holder,
    };
    log::info!(
        "another process run on this node holds the lock {name:?} (connection {}); skipping",
        holder.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into())
    );
    report.lock_holder = holder;
    // Which run that is, as far as the lease tells (best effort: the skip stands).
    report.lease = lease::with_synced_reads(&mut db.conn, |c| lease::read(c, lease::PROCESS)).unwrap_or(None);
    report.skipped = Some(Skip::Locked);
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The run once it holds the node's lock: the lease, then the work under it, then the
/// lease's release.
fn locked(
    mut lock: LockGuard<'_>,
    cfg: &Config,
    t: &Tables,
    opts: &Options,
    has_index: bool,
    started: Instant,
    mut report: ProcessReport,
) -> Result<ProcessReport> {
    let skip = |report: &mut ProcessReport, why: Skip| {
        report.skipped = Some(why);
        report.elapsed_seconds = started.elapsed().as_secs_f64();
    };
    // The lease, for the whole cluster. A dry run writes nothing: it only looks, and skips
    // while a live run holds it.
    let held = if opts.dry_run {
        let view = lease::with_synced_reads(&mut lock.conn, |c| lease::read(c, lease::PROCESS))?;
        let node = lease::node_name(&mut lock)?;
        report.lease = view.clone();
        if let Some(v) = view {
            let row = lease::RowState { holder: v.holder.clone(), node: v.node.clone(), fence: v.fence, live: v.held };
            if lease::verdict(&row, &node, true) == lease::Verdict::Held {
                log::info!("another process run holds the lease: {}; skipping", lease::describe(&v));
                skip(&mut report, Skip::Locked);
                return Ok(report);
            }
        }
        None
    } else {
        match lease::claim(&mut lock, lease::PROCESS, opts.lease_seconds, true, opts.lock_timeout)? {
            Claim::Won(l) => {
                // As the server holds it (claim time and expiry on its clock), or as claimed.
                report.lease = lease::read(&mut lock.conn, &l.name).ok().flatten().or_else(|| Some(l.view()));
                Some(l)
            }
            Claim::Held(view) => {
                match &view {
                    Some(v) => log::info!("another process run holds the lease: {}; skipping", lease::describe(v)),
                    None => log::info!("another process run claimed the lease first; skipping"),
                }
                report.lease = view;
                skip(&mut report, Skip::Locked);
                return Ok(report);
            }
        }
    };
    report.lock_acquired = true;
    let result = under_lease(&mut lock, cfg, t, opts, has_index, held.as_ref(), started, &mut report);
    if let Some(l) = &held {
        if let Err(e) = l.release(&mut lock.conn) {
            log::warn!(
                "could not release the lease (fence {}): {}; it expires by itself in at most {}s",
                l.fence,
                crate::outcome::chain_text(&e),
                l.seconds
            );
        }
    }
    let _ = lock.conn.query_drop(sql::PROCESS_DROP_TEMPORARY);
    result.map(|_| report)
}

/// The run once it holds the lease (`held`; None for a dry run): the interval check, the
/// snapshot, the batches, the ledger.
#[allow(clippy::too_many_arguments)]
fn under_lease(
    lock: &mut LockGuard<'_>,
    cfg: &Config,
    t: &Tables,
    opts: &Options,
    has_index: bool,
    held: Option<&Lease>,
    started: Instant,
    report: &mut ProcessReport,
) -> Result<()> {
    // Under the lease, so that two runs cannot both pass the interval check: the lease was
    // claimed with a synced read, after the previous holder had finished its ledger row.
    if !opts.dry_run {
        ledger::ensure(&mut lock.conn)?;
        let ago: Option<Option<i64>> =
            lock.conn.query_first(sql::PROCESS_LAST_RUN).context("cannot read the last run from seqfix_runs")?;
        if let Some(us) = ago.flatten() {
            report.last_run_seconds_ago = Some(us as f64 / 1e6);
            if !opts.min_interval.is_zero() && (us.max(0) as u128) < opts.min_interval.as_micros() {
                log::info!("a process run started {:.1}s ago (--min-interval); skipping", us as f64 / 1e6);
                report.skipped = Some(Skip::MinInterval);
                report.elapsed_seconds = started.elapsed().as_secs_f64();
                return Ok(());
            }
        }
    }

    // The snapshot comes before the ledger row: if building it fails, nothing is recorded.
    report.due = snapshot(&mut lock.conn, t, opts.limit)?;
    if let Some(l) = held {
        // The snapshot may have taken a while: renewed (or found lost) before any batch.
        l.renew(&mut lock.conn).map_err(|e| lost_now(&mut lock.conn, e))?;
    }
    let run_pass = |lock: &mut LockGuard<'_>, report: &mut ProcessReport| {
        let result = pass(lock, cfg, t, opts, has_index, held, report);
        report.elapsed_seconds = started.elapsed().as_secs_f64();
        result.map(|()| if report.interrupted { Outcome::Interrupted } else { Outcome::Ok })
    };
    if opts.dry_run {
        run_pass(lock, report)?;
    } else {
        ledger::recorded(lock, "process", started, report, |lock, report, _run| run_pass(lock, report))?;
    }
    Ok(())
}

/// A lost lease's error, with who holds the lease now when that can be read.
fn lost_now(conn: &mut Conn, e: anyhow::Error) -> anyhow::Error {
    let Some(lost) = lease::lost(&e).cloned() else { return e };
    let now =
        lease::with_synced_reads(conn, |c| lease::read(c, &lost.name)).ok().flatten().map(|v| lease::describe(&v));
    log::error!("this run lost the lease {:?} (fence {})", lost.name, lost.fence);
    anyhow::Error::new(lease::LeaseLost { now, ..lost })
}

/// Builds the due snapshot and the first-lead table; returns how many contacts are due.
fn snapshot(conn: &mut Conn, t: &Tables, limit: Option<u64>) -> Result<u64> {
    let ctx = "cannot build the pass's snapshot of due contacts (does the user have CREATE TEMPORARY TABLES?)";
    let t0 = Instant::now();
    conn.query_drop(sql::PROCESS_DROP_TEMPORARY).context(ctx)?;
    conn.exec_drop(t.render(sql::PROCESS_DUE), (limit.unwrap_or(u64::MAX),)).context(ctx)?;
    let n: u64 = conn.query_first(sql::PROCESS_DUE_COUNT).context(ctx)?.unwrap_or(0);
    log::info!("{n} due contacts in {:.2?}", t0.elapsed());
    let t0 = Instant::now();
    conn.query_drop(sql::PROCESS_LEAD_KEYS).context(ctx)?;
    conn.query_drop(t.render(sql::PROCESS_FIRST_LEADS_CREATE)).context(ctx)?;
    conn.query_drop(t.render(sql::PROCESS_FIRST_LEADS)).context(ctx)?;
    log::info!("first leads of their phones in {:.2?}", t0.elapsed());
    let t0 = Instant::now();
    conn.query_drop(t.render(sql::PROCESS_STEPS)).context(ctx)?;
    log::info!("steps by sequence and day in {:.2?}", t0.elapsed());
    Ok(n)
}

fn pass(
    lock: &mut LockGuard<'_>,
    cfg: &Config,
    t: &Tables,
    opts: &Options,
    has_index: bool,
    held: Option<&Lease>,
    report: &mut ProcessReport,
) -> Result<()> {
    let bar = Progress::bar(cfg.progress, "processing contacts", report.due);
    // SQL text, not held `Statement`s: the driver's statement cache closes statements it
    // evicts, and the batches' variable-length IN lists churn it.
    let batch_read = t.render(sql::PROCESS_BATCH);
    let mut cursor = String::new();
    loop {
        if crate::interrupt::requested() {
            report.interrupted = true;
            break;
        }
        lock.still_held()?;
        let (last, n): (Option<String>, u64) = lock
            .conn
            .exec_first(sql::PROCESS_BATCH_IDS, (&cursor, opts.batch_size as u64))
            .context("cannot read the next batch of due contacts")?
            .unwrap_or((None, 0));
        let Some(last) = last else { break };
        // Deadlock or lock wait timeout with the application's writes: the whole transaction
        // is rolled back (by the server on a deadlock; by dropping it on a timeout, which the
        // server rolls back only per statement); read the batch again.
        // The batch's counts are added only once its transaction committed: an attempt that
        // was rolled back and retried counts once, by the attempt that committed.
        let attempt = retry::batch(
            || format!("batch after {cursor:?}"),
            || {
                let candidates = batch::read(&mut lock.conn, &batch_read, &cursor, &last)?;
                match held {
                    Some(l) => batch::apply(
                        &mut lock.conn,
                        t,
                        &candidates,
                        opts.step_interval_secs,
                        has_index,
                        l,
                        opts.statements.unwrap_or(Statements::Prepared),
                    ),
                    None => batch::dry_run(&mut lock.conn, t, &candidates),
                }
            },
        );
        let (counts, _retries) = attempt.map_err(|e| lost_now(&mut lock.conn, e))?;
        report.counts.add(&counts);
        report.batches += 1;
        bar.inc(n);
        cursor = last;
    }
    bar.finish();
    Ok(())
}
