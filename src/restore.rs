//! `seqfix restore --run RUN_ID`: put the rows a dedupe run archived back into the source
//! table, in batches, each one transaction that inserts the rows and removes them from the
//! archive together (so a row is live or archived, never both): the insert takes only what
//! the archive holds for the run, and the archive rows are removed only for rows now
//! present in the table as archived, exactly as many as were put back, else the batch rolls
//! back. On Galera the statements are plain text and the transaction is checked to be open
//! before COMMIT, and the batch size fits the cluster's write-set limits
//! (`dedupe::txn`). It holds dedupe's node lock and cluster-wide lease (`lease::dedupe_name`),
//! renewed in every batch. Refuses while the unique
//! index exists: the restored rows are exactly the duplicates it forbids. A run of
//! `dedupe --empty-steps-to-null` changed rows in place instead: restoring it sets their
//! empty steps back, on the rows whose step is still NULL.
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::Value;
use serde::Serialize;

use crate::archive;
use crate::audit::KeyCount;
use crate::config::Config;
use crate::db::{self, Db};
use crate::dedupe::txn::{BatchCap, BatchServer, BatchTx, Statements};
use crate::dedupe::BatchTimes;
use crate::ident::Ident;
use crate::lease::{self, Lease};
use crate::ledger;
use crate::outcome::Outcome;
use crate::progress::Progress;
use crate::retry;
use crate::schema;
use crate::sql::{self, Fragment};
use crate::{confirm, interrupt};

#[derive(Debug, Clone)]
pub struct Options {
    pub run_id: String,
    pub archive: Ident,
    pub dry_run: bool,
    pub yes: bool,
    pub batch_size: usize,
    /// Pause between batches (`--sleep`).
    pub sleep: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The dedupe run whose rows are restored.
    pub run_id: String,
    /// This restore's own run in the ledger (none for a dry run).
    pub restore_run_id: Option<String>,
    pub dry_run: bool,
    pub status: String,
    pub database: String,
    pub table: String,
    pub archive_table: String,
    /// Rows of the run found in the archive.
    pub archived_rows: u64,
    pub restored_rows: u64,
    /// Rows of an --empty-steps-to-null run changed since (gone, or a step no longer
    /// NULL): left as they are, and in the archive.
    pub left_rows: u64,
    pub batches: u64,
    /// The batch size used: `--batch-size`, or less when `batch_cap` lowered it.
    pub batch_size: usize,
    /// The write-set limit that lowered `--batch-size` (Galera, Group Replication), if any.
    pub batch_cap: Option<BatchCap>,
    pub batch_times: BatchTimes,
    pub by_status: Vec<KeyCount>,
    pub elapsed_ms: u64,
}

/// What one restore batch did.
struct Restored {
    /// Rows put back (inserted again, or their empty step set back).
    rows: u64,
    /// Rows of an --empty-steps-to-null run that changed since (gone, or a step that is no
    /// longer NULL): left as they are, and in the archive.
    left: u64,
    /// The batch's last archived id: the next batch starts after it.
    last: String,
}

/// How the batches run on this server.
#[derive(Debug, Clone, Copy)]
struct Batches {
    /// Archived rows per batch (`--batch-size`, capped by the write-set limits).
    size: usize,
    statements: Statements,
}

/// Restores the batch of archived rows after `after`; `None` when none is left. The lease
/// is renewed (fenced) first: a run that lost it restores nothing more. A deleted
/// row (dedupe) is inserted again; a row changed in place (--empty-steps-to-null) gets its
/// empty step back when its step is still NULL.
#[allow(clippy::too_many_arguments)]
fn restore_batch(
    db: &mut Db,
    table: &Ident,
    archive: &Ident,
    columns: &[Ident],
    opts: &Options,
    batches: Batches,
    lease: &Lease,
    after: &str,
) -> Result<Option<Restored>> {
    let mut tx = BatchTx::start(&mut db.conn, batches.statements)?;
    lease.renew_in(&mut tx)?;
    let next = sql::render(sql::RESTORE_NEXT_IDS, &[("archive", archive)]);
    let params = vec![Value::from(opts.run_id.as_str()), Value::from(after), Value::from(batches.size as u64)];
    let batch: Vec<(String, bool)> = tx.read(&next, params).context("cannot read the next batch")?;
    let Some(last) = batch.last().map(|(id, _)| id.clone()) else {
        tx.rollback()?;
        return Ok(None);
    };
    let ids = |rows: &[&str]| -> Vec<Value> { rows.iter().map(|i| Value::from(*i)).collect() };
    let run_and = |rows: &[&str]| -> Vec<Value> {
        let mut params = vec![Value::from(opts.run_id.as_str())];
        params.extend(ids(rows));
        params
    };
    let moved: Vec<&str> = batch.iter().filter(|(_, in_place)| !in_place).map(|(id, _)| id.as_str()).collect();
    let in_place: Vec<&str> = batch.iter().filter(|(_, in_place)| *in_place).map(|(id, _)| id.as_str()).collect();
    if !moved.is_empty() {
        let n = moved.len();
        let insert = sql::render_parts(
            sql::RESTORE_INSERT,
            &[("table", table), ("archive", archive)],
            &[("columns", &Fragment::columns(columns)), ("ids", &Fragment::placeholders(n))],
        );
        let inserted = tx.write(&insert, run_and(&moved)).map_err(|e| {
            let hint = match crate::db::server_error_code(&e) {
                Some(1062) => {
                    " (a row with one of these ids, or with the same key under a unique index, is live again)"
                }
                _ => "",
            };
            e.context(format!("cannot put archived rows back into {table}{hint}"))
        })?;
        if inserted != n as u64 {
            return Err(tx.mismatch(format!("restoring inserted {inserted} rows where {n} were archived")));
        }
    }
    let mut back: Vec<String> = Vec::new();
    if !in_place.is_empty() {
        let find = sql::render_parts(
            sql::RESTORE_SET_BACK_IDS,
            &[("table", table)],
            &[("ids", &Fragment::placeholders(in_place.len()))],
        );
        back = tx.read(&find, ids(&in_place)).context("cannot lock the rows whose empty step is to be set back")?;
    }
    let back: Vec<&str> = back.iter().map(String::as_str).collect();
    if !back.is_empty() {
        let set = sql::render_parts(
            sql::RESTORE_SET_BACK,
            &[("table", table), ("archive", archive)],
            &[("ids", &Fragment::placeholders(back.len()))],
        );
        let set_back =
            tx.write(&set, run_and(&back)).with_context(|| format!("cannot set the empty steps back in {table}"))?;
        if set_back != back.len() as u64 {
            return Err(tx.mismatch(format!("setting back changed {set_back} rows where {} were locked", back.len())));
        }
    }
    let done: Vec<&str> = moved.iter().chain(back.iter()).copied().collect();
    if !done.is_empty() {
        let delete = sql::render_parts(
            sql::RESTORE_DELETE,
            &[("archive", archive), ("table", table)],
            &[("ids", &Fragment::placeholders(done.len()))],
        );
        let removed =
            tx.write(&delete, run_and(&done)).with_context(|| format!("cannot remove restored rows from {archive}"))?;
        if removed != done.len() as u64 {
            return Err(tx.mismatch(format!(
                "removing the restored rows from {archive} removed {removed} where {} are live again",
                done.len()
            )));
        }
    }
    tx.commit()?;
    Ok(Some(Restored { rows: done.len() as u64, left: (in_place.len() - back.len()) as u64, last }))
}

pub fn run(cfg: &Config, opts: &Options) -> Result<(RestoreReport, Outcome)> {
    let started = Instant::now();
    if uuid::Uuid::parse_str(&opts.run_id).is_err() {
        bail!("--run {:?} is not a run id: pass the run_id a dedupe printed (see the seqfix_runs table)", opts.run_id);
    }
    let mut db = db::connect(&cfg.db)?;
    db::refuse_read_only(&mut db, "restore")?;
    let info = schema::check(&mut db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    if let Some(ix) = info.unique_key_index() {
        bail!(
            "{}.{} has the unique index {} on (sequence_stepid, recipient_phone, device_id), which the restored duplicates would violate; \
             drop it first with `seqfix migrate --down` or `ALTER TABLE {} DROP INDEX {}` (nothing was changed)",
            db.database,
            cfg.table,
            ix.name,
            cfg.table.quoted(),
            ix.name
        );
    }
    if !archive::check_existing(&mut db, &info, &opts.archive)? {
        bail!(
            "archive table {}.{} does not exist: nothing to restore (check --archive-table)",
            db.database,
            opts.archive
        );
    }
    let columns = archive::restore_columns(&info)?;
    // The cluster's facts, once per run: how the batches send their statements, and how
    // many rows fit one batch's write set.
    let server = BatchServer::read(&mut db, &cfg.table)?;
    let (batch_size, batch_cap) = server.batch_size(opts.batch_size)?;
    if let Some(cap) = &batch_cap {
        log::info!("{cap}");
    }
    let batches = Batches { size: batch_size, statements: server.statements };
    let count = sql::render(sql::RESTORE_COUNT, &[("archive", &opts.archive)]);
    let by_status: Vec<(Option<String>, u64)> = db.conn.exec(count, (opts.run_id.as_str(),))?;
    let archived_rows: u64 = by_status.iter().map(|(_, n)| n).sum();
    if archived_rows == 0 {
        bail!(
            "unknown run {}: archive table {}.{} holds no rows of it (already restored, or a different --archive-table?)",
            opts.run_id,
            db.database,
            opts.archive
        );
    }
    let mut report = RestoreReport {
        run_id: opts.run_id.clone(),
        restore_run_id: None,
        dry_run: opts.dry_run,
        status: "dry-run".into(),
        database: db.database.clone(),
        table: cfg.table.to_string(),
        archive_table: opts.archive.to_string(),
        archived_rows,
        restored_rows: 0,
        left_rows: 0,
        batches: 0,
        batch_size,
        batch_cap,
        batch_times: BatchTimes::default(),
        by_status: by_status
            .into_iter()
            .map(|(s, rows)| KeyCount { key: s.unwrap_or_else(|| "(null)".into()), rows })
            .collect(),
        elapsed_ms: 0,
    };
    if opts.dry_run {
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok((report, Outcome::Ok));
    }
    confirm::confirm(
        &format!(
            "put {archived_rows} archived rows of run {} back into {}.{}",
            opts.run_id, report.database, cfg.table
        ),
        opts.yes,
    )?;
    let database = db.database.clone();
    let mut guard =
        db.lock_or_fail(&db::dedupe_lock_name(&database, &cfg.table), Duration::ZERO, crate::dedupe::WHAT)?;
    // The node's lock keeps runs on this node apart; the lease, the cluster's nodes.
    let lease =
        lease::claim_or_fail(&mut guard, &lease::dedupe_name(&cfg.table), lease::DEDUPE_SECONDS, crate::dedupe::WHAT)?;
    let outcome = lease::holding(&mut guard, &lease, |guard| {
        ledger::recorded(guard, "restore", started, &mut report, |guard, report, _run| {
            crate::dedupe::prepare_session(&mut guard.conn, crate::dedupe::DEFAULT_LOCK_WAIT_SECS)?;
            interrupt::install();
            let progress = Progress::bar(cfg.progress, "restoring", archived_rows);
            let result = run_batches(guard, cfg, opts, batches, &lease, &columns, &progress, report);
            progress.finish();
            result
        })
    })?;
    Ok((report, outcome))
}

/// The batches, each under the batch retry policy, until the run's archive is empty.
#[allow(clippy::too_many_arguments)]
fn run_batches(
    guard: &mut Db,
    cfg: &Config,
    opts: &Options,
    batches: Batches,
    lease: &Lease,
    columns: &[Ident],
    progress: &Progress,
    report: &mut RestoreReport,
) -> Result<Outcome> {
    let mut times = Vec::new();
    let mut after = String::new();
    loop {
        if interrupt::requested() {
            return Ok(Outcome::Interrupted);
        }
        let t = Instant::now();
        let (done, _retries) = retry::batch(
            || format!("restore batch {}", report.batches + 1),
            || restore_batch(guard, &cfg.table, &opts.archive, columns, opts, batches, lease, &after),
        )
        .with_context(|| format!("restore batch {} failed and was rolled back", report.batches + 1))?;
        let Some(done) = done else {
            return Ok(Outcome::Ok);
        };
        let n = done.rows + done.left;
        after = done.last;
        if done.left > 0 {
            log::warn!(
                "{} rows of run {} changed since their empty step was set to NULL (gone, or a new step): left as they are, and in the archive",
                done.left,
                opts.run_id
            );
        }
        times.push(t.elapsed());
        report.batches += 1;
        report.restored_rows += done.rows;
        report.left_rows += done.left;
        report.batch_times = BatchTimes::of(&times);
        progress.inc(n);
        interrupt::pause(opts.sleep);
    }
}

impl ledger::Recorded for RestoreReport {
    fn run_fields(&mut self) -> ledger::RunFields<'_> {
        ledger::RunFields {
            id: &mut self.restore_run_id,
            status: Some(&mut self.status),
            elapsed_ms: Some(&mut self.elapsed_ms),
        }
    }
    fn summary(&self) -> impl Serialize {
        self
    }
    fn stopped(&self, _run: &ledger::Run) -> Option<String> {
        Some(format!("restore stopped after {} rows; run it again to continue", self.restored_rows))
    }
}
