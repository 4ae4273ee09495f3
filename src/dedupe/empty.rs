//! `seqfix dedupe --empty-steps-to-null`: the remedy for rows whose `sequence_stepid` is the
//! empty string, which the application treats as no sequence but the unique index treats as
//! a value (`crate::empty_steps`). Sets them to NULL, the other spelling of "no sequence",
//! in batches like dedupe's: each batch one transaction that locks its rows, copies those
//! still empty into the archive (marked as changed in place: `seqfix_kept_id` is the row's
//! own id) and sets them to NULL, so a row is always either unchanged or archived and
//! changed: the update is joined to the archive copy and must change exactly as many rows
//! as were copied. On Galera the batches are sent as `txn` says (plain text, checked open
//! before COMMIT) and sized to the write-set limits (each row is two write-set rows: the
//! archive insert and the update). A crash loses at most the open batch, which the server rolls back; running the
//! command again finds the rows still empty. `restore --run ID` sets them back.
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use serde::Serialize;

use super::txn::{BatchCap, BatchServer, BatchTx, Statements};
use super::{BatchTimes, Options};
use crate::archive;
use crate::config::Config;
use crate::db::{self, Db};
use crate::ident::Ident;
use crate::lease::{self, Lease};
use crate::ledger;
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::replica::{self, Replica};
use crate::retry;
use crate::schema;
use crate::sql::{self, Fragment};
use crate::{confirm, interrupt};

/// The ledger's name for these runs.
pub const COMMAND: &str = "dedupe-empty-steps";

#[derive(Debug, Clone, Serialize)]
pub struct EmptyStepsReport {
    pub run_id: Option<String>,
    pub dry_run: bool,
    /// succeeded, interrupted, failed or dry-run.
    pub status: String,
    pub database: String,
    pub table: String,
    pub archive_table: String,
    /// Rows whose step was empty when the run started.
    pub empty_step_rows: u64,
    /// Of those, rows the unique index would have rejected.
    pub colliding_rows: u64,
    /// Rows set to NULL (each archived first).
    pub nulled_rows: u64,
    /// Rows whose step was no longer empty (or that were gone) when their batch came.
    pub changed_rows: u64,
    pub batches: u64,
    /// The batch size used: `--batch-size`, or less when `batch_cap` lowered it.
    pub batch_size: usize,
    /// The write-set limit that lowered `--batch-size` (Galera, Group Replication), if any.
    pub batch_cap: Option<BatchCap>,
    pub batch_retries: u64,
    pub batch_times: BatchTimes,
    pub elapsed_ms: u64,
}

/// How the batches run: their statements (`txn`) and the lease each renews first.
#[derive(Clone, Copy)]
struct Batches<'l> {
    statements: Statements,
    lease: &'l Lease,
}

/// One batch: the lease renewed (fenced), then archive and set to NULL those of `ids`
/// still empty. Returns how many.
fn batch(
    conn: &mut Conn,
    batches: Batches<'_>,
    table: &Ident,
    archive: &Ident,
    columns: &[Ident],
    run_id: &str,
    ids: &[String],
) -> Result<u64> {
    let n = ids.len();
    let mut tx = BatchTx::start(conn, batches.statements)?;
    batches.lease.renew_in(&mut tx)?;
    let copy = sql::render_parts(
        sql::EMPTY_STEPS_ARCHIVE,
        &[("table", table), ("archive", archive)],
        &[("columns", &Fragment::columns(columns)), ("ids", &Fragment::placeholders(n))],
    );
    let mut params: Vec<Value> = vec![Value::from(run_id)];
    params.extend(ids.iter().map(|i| Value::from(i.as_str())));
    let copied = tx
        .write(&copy, params)
        .with_context(|| format!("cannot lock the batch's rows and copy them into {archive}"))?;
    let null = sql::render_parts(
        sql::EMPTY_STEPS_NULL,
        &[("table", table), ("archive", archive)],
        &[("ids", &Fragment::placeholders(n))],
    );
    let mut params: Vec<Value> = vec![Value::from(run_id)];
    params.extend(ids.iter().map(|i| Value::from(i.as_str())));
    let nulled =
        tx.write(&null, params).with_context(|| format!("cannot set the batch's empty steps to NULL in {table}"))?;
    if nulled != copied {
        return Err(tx.mismatch(format!("the batch set {nulled} steps to NULL where {copied} were archived")));
    }
    tx.commit()?;
    Ok(copied)
}

/// Runs the remedy.
pub fn run(cfg: &Config, opts: &Options) -> Result<(EmptyStepsReport, Outcome)> {
    let started = Instant::now();
    if opts.archive == cfg.table {
        bail!("--archive-table must differ from --table ({})", cfg.table);
    }
    let mut db = db::connect(&cfg.db)?;
    let info = schema::check(&mut db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    let columns = archive::copy_columns(&info)?;
    let archive_exists = archive::check_existing(&mut db, &info, &opts.archive)?;
    // The cluster's facts, once per run (`txn`): how the batches send their statements, and
    // how many rows fit one batch's write set.
    let server = BatchServer::read(&mut db, &cfg.table)?;
    let (batch_size, batch_cap) = server.batch_size(opts.batch_size)?;
    if let Some(cap) = &batch_cap {
        log::info!("{cap}");
    }
    let empty = crate::empty_steps::collisions(&mut db, &cfg.table, None)?;
    let ids: Vec<String> =
        db.conn.query(sql::render(sql::EMPTY_STEPS_IDS, &[("table", &cfg.table)])).with_context(|| {
            format!("cannot list the rows of {}.{} with an empty sequence_stepid", db.database, cfg.table)
        })?;
    let mut report = EmptyStepsReport {
        run_id: None,
        dry_run: opts.dry_run,
        status: "dry-run".into(),
        database: db.database.clone(),
        table: cfg.table.to_string(),
        archive_table: opts.archive.to_string(),
        empty_step_rows: ids.len() as u64,
        colliding_rows: empty.colliding_rows,
        nulled_rows: 0,
        changed_rows: 0,
        batches: 0,
        batch_size,
        batch_cap,
        batch_retries: 0,
        batch_times: BatchTimes::default(),
        elapsed_ms: 0,
    };
    if opts.dry_run || ids.is_empty() {
        report.status = if opts.dry_run { "dry-run" } else { "succeeded" }.into();
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok((report, Outcome::Ok));
    }
    db::refuse_read_only(&mut db, "dedupe --empty-steps-to-null")?;
    crate::dedupe::guards::refuse_unless_allowed(&mut db, &cfg.table, crate::dedupe::guards::Change::NullSteps, opts)?;
    confirm::confirm(
        &format!(
            "set the empty sequence_stepid of {} rows of {}.{} to NULL (archiving them in {})",
            ids.len(),
            db.database,
            cfg.table,
            opts.archive
        ),
        opts.yes,
    )?;
    let mut replicas = Vec::new();
    for r in &opts.replicas {
        replicas.push(Replica::connect(r)?);
    }
    let database = db.database.clone();
    let mut guard = db.lock_or_fail(&db::dedupe_lock_name(&database, &cfg.table), Duration::ZERO, super::WHAT)?;
    super::probe(&mut guard, &cfg.table, sql::DEDUPE_PROBE_UPDATE, "update")?;
    // The node's lock keeps runs on this node apart; the lease, the cluster's nodes.
    let lease = lease::claim_or_fail(&mut guard, &lease::dedupe_name(&cfg.table), lease::DEDUPE_SECONDS, super::WHAT)?;
    let outcome = lease::holding(&mut guard, &lease, |guard| {
        ledger::recorded(guard, COMMAND, started, &mut report, |guard, report, run| {
            let batches = Batches { statements: server.statements, lease: &lease };
            execute(guard, cfg, opts, batches, &info, &columns, archive_exists, &ids, &mut replicas, report, &run.id)
        })
    })?;
    Ok((report, outcome))
}

impl ledger::Recorded for EmptyStepsReport {
    fn run_fields(&mut self) -> ledger::RunFields<'_> {
        ledger::RunFields {
            id: &mut self.run_id,
            status: Some(&mut self.status),
            elapsed_ms: Some(&mut self.elapsed_ms),
        }
    }
    fn summary(&self) -> impl Serialize {
        self
    }
    fn stopped(&self, run: &ledger::Run) -> Option<String> {
        Some(format!(
            "run {} stopped after setting {} empty steps to NULL (each archived; every committed batch is complete); run `seqfix dedupe --empty-steps-to-null` again to finish",
            run.id, self.nulled_rows
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn execute(
    db: &mut Db,
    cfg: &Config,
    opts: &Options,
    batches: Batches<'_>,
    info: &schema::TableInfo,
    columns: &[Ident],
    archive_exists: bool,
    ids: &[String],
    replicas: &mut [Replica],
    report: &mut EmptyStepsReport,
    run_id: &str,
) -> Result<Outcome> {
    if !archive_exists {
        archive::create(db, info, &opts.archive)?;
    }
    crate::dedupe::prepare_session(&mut db.conn, opts.lock_wait_timeout.as_secs())?;
    interrupt::install();
    let progress = Progress::bar(cfg.progress, "setting empty steps to NULL", ids.len() as u64);
    let mut times = Vec::new();
    for chunk in ids.chunks(report.batch_size) {
        if interrupt::requested() {
            return Ok(Outcome::Interrupted);
        }
        if !replicas.is_empty() {
            replica::wait_for(replicas, opts.max_replica_lag, &progress, interrupt::requested)?;
            if interrupt::requested() {
                return Ok(Outcome::Interrupted);
            }
            // The wait may have outlasted the lease: extended unless another run took it.
            batches.lease.extend(&mut db.conn)?;
        }
        let t = Instant::now();
        let (n, retries) = retry::batch(
            || format!("batch {} ({} rows)", report.batches + 1, chunk.len()),
            || batch(&mut db.conn, batches, &cfg.table, &opts.archive, columns, run_id, chunk),
        )
        .with_context(|| format!("batch {} ({} rows) failed and was rolled back", report.batches + 1, chunk.len()))?;
        times.push(t.elapsed());
        report.batches += 1;
        report.batch_retries += u64::from(retries);
        report.nulled_rows += n;
        report.changed_rows += chunk.len() as u64 - n;
        report.batch_times = BatchTimes::of(&times);
        progress.inc(chunk.len() as u64);
        interrupt::pause(opts.sleep);
    }
    progress.finish();
    Ok(if interrupt::requested() { Outcome::Interrupted } else { Outcome::Ok })
}
