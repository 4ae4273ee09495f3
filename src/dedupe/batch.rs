//! One batch of a dedupe: the plan rows it works on, the pure decision of which victims
//! may go (`decide`, which chooses the survivor again from the locked rows with the same
//! rule as the plan), and the transaction that locks, re-checks, archives and deletes them
//! (`execute_batch`: in two statements when nothing changed since the plan, else with a
//! locking read first; the delete joined to the archive, so only rows whose copy the
//! transaction sees there go, and exactly as many as were copied). Its statements are sent
//! as `txn` says (plain text on Galera, the transaction checked to be still open before
//! COMMIT), the run's lease renewed, fenced, as the first (`Target::with_lease`). Kept
//! apart from the run loop so tests can drive a batch directly, e.g. with a plan whose
//! survivor someone deleted, or whose victim was sent, after planning.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use serde::{Deserialize, Serialize};

use crate::ident::Ident;
use crate::lease::Lease;
use crate::retry;
use crate::scan::ExactGroup;
use crate::schema::TableInfo;
use crate::sql::{self, Fragment};
use crate::survivor::{Candidate, Keep, Reason, Rule, Verdict};

use super::txn::{BatchTx, Statements};

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

/// The order in which the batches take the plan's victims: by primary key (the id's bytes;
/// for the UUIDs the application writes, also the server's collation order). Consecutive
/// batches then work on neighbouring pages of the table instead of on pages scattered all
/// over it, which the application's own writes feel less (docs/benchmarks.md).
pub fn by_victim(a: &PlanRow, b: &PlanRow) -> std::cmp::Ordering {
    a.victim_id.cmp(&b.victim_id)
}

/// How plan rows are compared in the external sort.
pub type PlanOrder = fn(&PlanRow, &PlanRow) -> std::cmp::Ordering;

/// An external sort of plan rows by `by_victim`, holding `run_rows` rows in memory and
/// writing each full run to a file in `dir` (a `spill::dir`: the rows hold phones).
pub fn plan_sorter(run_rows: usize, dir: &std::path::Path) -> extsort::PushExternalSorter<PlanRow, PlanOrder> {
    extsort::ExternalSorter::new()
        .with_segment_size(run_rows)
        .with_sort_dir(dir.to_path_buf())
        .pushed_by(by_victim as PlanOrder)
}

/// The plan is sorted by `by_victim` with an external sort, so its runs go to temporary
/// files: each field as its length and its bytes.
impl extsort::Sortable for PlanRow {
    fn encode<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        for field in [&self.victim_id, &self.kept_id, &self.sequence_stepid, &self.recipient_phone, &self.device_id] {
            w.write_all(&(field.len() as u32).to_le_bytes())?;
            w.write_all(field.as_bytes())?;
        }
        Ok(())
    }

    fn decode<R: Read>(r: &mut R) -> std::io::Result<Self> {
        let mut field = || -> std::io::Result<String> {
            let mut len = [0u8; 4];
            r.read_exact(&mut len)?;
            let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
            r.read_exact(&mut bytes)?;
            String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        Ok(PlanRow {
            victim_id: field()?,
            kept_id: field()?,
            sequence_stepid: field()?,
            recipient_phone: field()?,
            device_id: field()?,
        })
    }
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

/// One line of `--plan-file`: a victim, the row kept in its place, their key, and which
/// rule kept that row and why (`survivor::Reason`), with both rows' statuses as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    pub victim_id: String,
    pub kept_id: String,
    pub sequence_stepid: String,
    pub recipient_phone: String,
    pub device_id: String,
    /// `sent-first` or `oldest`.
    pub rule: String,
    /// `status`, `oldest` or `smallest-id`.
    pub kept_because: String,
    pub kept_status: Option<String>,
    pub victim_status: Option<String>,
}

/// The plan file's records of one duplicate group the rule kept `g.survivor()` of.
pub fn plan_records<'a>(g: &'a ExactGroup, rule: &'a Rule, reason: Reason) -> impl Iterator<Item = PlanRecord> + 'a {
    g.victims().iter().map(move |v| PlanRecord {
        victim_id: v.id.clone(),
        kept_id: g.survivor().id.clone(),
        sequence_stepid: g.sequence_stepid.clone(),
        recipient_phone: g.recipient_phone.clone(),
        device_id: g.device_id.clone(),
        rule: rule.name().to_string(),
        kept_because: reason.as_str().to_string(),
        kept_status: g.survivor().status.clone(),
        victim_status: v.status.clone(),
    })
}

/// A group a batch left alone because its survivor is gone or no longer has the key, or
/// because the rule, applied to the locked rows, no longer keeps the planned survivor.
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

/// Why a batch left a group alone when the rule no longer keeps the planned survivor.
pub const OUTRANKED: &str = "a copy now ranks before the kept row (its status changed since the plan)";
/// Why a batch left a group alone when a copy's status is now one the rule does not rank.
pub const NOW_UNKNOWN: &str = "a copy now has a status the survivor rule does not rank";

/// What the locking read found of a row: its key's rank (rows with equal ranks share the
/// key under the collation; `None`: not a sequence message any more), and what the survivor
/// rule looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locked {
    pub key: Option<u64>,
    pub status: Option<String>,
    pub created_us: Option<i64>,
}

/// A locked row as the survivor rule sees it.
struct LockedCopy<'a> {
    id: &'a str,
    row: &'a Locked,
}

impl Candidate for LockedCopy<'_> {
    fn id(&self) -> &str {
        self.id
    }
    fn status(&self) -> Option<&str> {
        self.row.status.as_deref()
    }
    fn created_us(&self) -> Option<i64> {
        self.row.created_us
    }
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

/// Decides a batch. `locked` maps each id the locking read found to what it found. Never
/// deletes a victim unless its survivor exists with the same key, so the last copy of a
/// message is never deleted; and never unless `rule`, applied afresh to the locked rows of
/// the group that still share that key (the survivor and this batch's victims), still keeps
/// the planned survivor. So a victim that was sent after the plan, or whose status became
/// one the rule does not rank, is never deleted: its group is left alone and reported
/// (when in doubt, keep the row). Deleting a victim the rule ranks after the locked
/// survivor is safe whatever the other batches do: the survivor stays, locked, in this
/// transaction, and it ranks at least as well. Pure.
pub fn decide(batch: &[PlanRow], locked: &HashMap<String, Locked>, rule: &Rule) -> Decision {
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
        let (kept_row, key) = match locked.get(kept) {
            None => {
                d.skipped.push(skip("the kept row no longer exists"));
                continue;
            }
            Some(Locked { key: None, .. }) => {
                d.skipped.push(skip("the kept row is no longer a sequence message"));
                continue;
            }
            Some(row @ Locked { key: Some(k), .. }) => (row, *k),
        };
        let (mut present, mut changed) = (0, 0);
        let mut same_key: Vec<&PlanRow> = Vec::new();
        for r in rows {
            match locked.get(&r.victim_id) {
                None => d.vanished += 1,
                Some(Locked { key: Some(k), .. }) if *k == key => {
                    present += 1;
                    same_key.push(r);
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
            continue;
        }
        // The rule again, on the rows as they are now: the kept row first, so that it
        // stays the survivor when the rule still ranks it first.
        let mut copies = vec![LockedCopy { id: kept, row: kept_row }];
        copies.extend(same_key.iter().map(|r| LockedCopy { id: &r.victim_id, row: &locked[&r.victim_id] }));
        match rule.choose(&copies) {
            Verdict::Keep { index: 0, .. } => {
                d.delete.extend(same_key.iter().map(|r| (r.victim_id.clone(), r.kept_id.clone())));
            }
            Verdict::Keep { .. } => d.skipped.push(skip(OUTRANKED)),
            Verdict::Unknown { .. } => d.skipped.push(skip(NOW_UNKNOWN)),
        }
    }
    d
}

/// Where a batch copies from and to, and the rule that decides again on the locked rows.
#[derive(Debug, Clone)]
pub struct Target {
    pub table: Ident,
    pub archive: Ident,
    /// The source's columns, as the server reports them.
    pub columns: Vec<Ident>,
    pub run_id: String,
    pub rule: Rule,
    /// How the batch transactions send their statements (`txn::Statements`; prepared
    /// unless `with_statements` says otherwise).
    pub statements: Statements,
    /// The run's lease, renewed (fenced) as the first statement of every batch: a run that
    /// lost it commits no batch. None only where a test drives batches directly.
    pub lease: Option<Lease>,
    /// `created_at` in microseconds (`scan::created_us`) unqualified, of the survivor (`k`)
    /// and of the victim (`s`): what the scan ordered by, so the batch orders alike.
    created_us: [Fragment; 3],
}

impl Target {
    /// The batches' target for the table `info` describes (its columns copied as the
    /// server reports them, `archive::copy_columns`).
    pub fn new(info: &TableInfo, archive: Ident, run_id: &str, rule: Rule) -> Result<Target> {
        Ok(Target {
            table: Ident::new("table", &info.name)?,
            archive,
            columns: crate::archive::copy_columns(info)?,
            run_id: run_id.to_string(),
            rule,
            statements: Statements::Prepared,
            lease: None,
            created_us: [
                crate::scan::created_us(info, None)?,
                crate::scan::created_us(info, Some("k"))?,
                crate::scan::created_us(info, Some("s"))?,
            ],
        })
    }

    /// The same target, its batches sending their statements as `statements` says.
    pub fn with_statements(mut self, statements: Statements) -> Target {
        self.statements = statements;
        self
    }

    /// The same target, its batches renewing `lease` first.
    pub fn with_lease(mut self, lease: Lease) -> Target {
        self.lease = Some(lease);
        self
    }

    /// A batch transaction for this target: started, the lease renewed first.
    fn start<'c>(&self, conn: &'c mut Conn) -> Result<BatchTx<'c>> {
        let mut tx = BatchTx::start(conn, self.statements)?;
        if let Some(lease) = &self.lease {
            lease.renew_in(&mut tx)?;
        }
        Ok(tx)
    }

    /// The fast path's test that the survivor `k` still comes before the victim `s` under
    /// the rule (`sql/dedupe/kept_first*.sql`), and the joins that rank their statuses.
    fn kept_first(&self) -> (Fragment, Fragment) {
        let [_, k, s] = &self.created_us;
        let older = Fragment::sql_with(sql::DEDUPE_KEPT_FIRST, &[("k_created", k), ("s_created", s)]);
        match self.rule.keep() {
            Keep::Oldest => (Fragment::sql(""), older),
            Keep::SentFirst => {
                let ranks = Fragment::pairs("status", "r", self.rule.statuses().len());
                (
                    Fragment::sql_with(sql::DEDUPE_STATUS_RANKS, &[("ranks", &ranks)]),
                    Fragment::sql_with(sql::DEDUPE_KEPT_FIRST_BY_STATUS, &[("kept_first", &older)]),
                )
            }
        }
    }

    /// The values the status joins bind: each status and its rank, once for the survivor
    /// and once for the victim.
    fn rank_params(&self) -> Vec<Value> {
        let one: Vec<Value> = match self.rule.keep() {
            Keep::Oldest => Vec::new(),
            Keep::SentFirst => self
                .rule
                .statuses()
                .iter()
                .enumerate()
                .flat_map(|(i, s)| [Value::from(s.as_str()), Value::from(i as u64)])
                .collect(),
        };
        [one.clone(), one].concat()
    }
}

/// The most placeholders one statement of a batch of `n` victims binds (the server refuses
/// more than 65,535): the fast path's copy binds the run id, each pair and the status
/// ranks twice; the locking read binds up to 2n ids. Pure.
/// The session settings of the connection that runs archived batches (dedupe, its
/// empty-steps pass, restore): their isolation level, and how long a batch waits for a row
/// lock before it is rolled back and retried.
pub fn prepare_session(conn: &mut Conn, lock_wait_secs: u64) -> Result<()> {
    conn.query_drop(sql::BATCH_SESSION).context("cannot set the batch transactions' isolation level")?;
    conn.exec_drop(sql::BATCH_LOCK_WAIT, (lock_wait_secs.max(1),))
        .context("cannot set innodb_lock_wait_timeout for the batches")
}

pub fn max_placeholders(n: usize, statuses: usize) -> usize {
    (1 + 2 * n + 4 * statuses).max(2 * n)
}

/// What one committed batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchResult {
    pub archived: u64,
    pub decision: Decision,
    /// Attempts beyond the first (lock wait timeouts, deadlocks).
    pub retries: u32,
    /// Time of the committed attempt, from its first START TRANSACTION to COMMIT (a batch
    /// redone because a row changed since the plan counts both transactions).
    pub duration: Duration,
    /// The batch was redone with a locking read first (`execute_checked`): some row
    /// changed since the plan, or the rule no longer keeps a planned survivor.
    pub redone: bool,
}

fn values(items: impl IntoIterator<Item = String>) -> Vec<Value> {
    items.into_iter().map(Value::from).collect()
}

/// Runs one batch as one transaction on `conn` (the connection holding the advisory lock).
/// Public so that tests can drive it with a plan whose rows they changed after planning.
///
/// The usual case, nothing changed since the plan, takes two statements: one that locks
/// every victim and its survivor and copies the victims whose survivor still has their key
/// (`lock_and_archive.sql`), then the delete. When the copy finds fewer rows than the batch
/// holds, that transaction is rolled back and the batch redone in `execute_checked`, which
/// says of each row what changed.
pub fn execute_batch(conn: &mut Conn, target: &Target, batch: &[PlanRow]) -> Result<BatchResult> {
    if batch.is_empty() {
        return Ok(BatchResult::default());
    }
    let started = Instant::now();
    if let Some(done) = execute_as_planned(conn, target, batch, started)? {
        return Ok(done);
    }
    log::debug!("a row of the batch changed since the plan; redoing it with a locking read first");
    execute_checked(conn, target, batch, started)
}

/// The batch's (victim, survivor) pairs in primary-key order of the victims: the archive's
/// key is (run id, id), so its pages fill in order instead of splitting, and the source
/// rows are read in index order. A concurrent writer's p99 was lower with the pairs sorted
/// (docs/benchmarks.md).
fn sorted_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = pairs.collect();
    v.sort_unstable();
    v
}

/// A copy into the archive (`lock_and_archive.sql` or `archive_batch.sql`) for n pairs.
fn copy_statement(template: &str, target: &Target, n: usize) -> String {
    let (ranks, kept_first) = target.kept_first();
    sql::render_parts(
        template,
        &[("table", &target.table), ("archive", &target.archive)],
        &[
            ("columns", &Fragment::columns(&target.columns)),
            ("source_columns", &Fragment::qualified_columns("s", &target.columns)),
            ("pairs", &Fragment::pairs("victim_id", "kept_id", n)),
            ("status_ranks", &ranks),
            ("kept_first", &kept_first),
        ],
    )
}

/// The copy's parameters: the run id, then each pair.
fn copy_params(run_id: &str, pairs: &[(&str, &str)]) -> Vec<Value> {
    let mut params: Vec<Value> = Vec::with_capacity(1 + 2 * pairs.len());
    params.push(Value::from(run_id));
    for (victim, kept) in pairs {
        params.push(Value::from(*victim));
        params.push(Value::from(*kept));
    }
    params
}

/// Deletes the victims whose copy this run put in the archive and this transaction sees
/// there (`delete_batch.sql`, joined to the archive by run id and id); exactly `n` rows,
/// the number archived, must go (they are locked), else the batch fails and is rolled back
/// (retried when the server no longer had the transaction open).
fn delete_victims<'a>(
    tx: &mut BatchTx<'_>,
    target: &Target,
    victims: impl Iterator<Item = &'a str>,
    n: usize,
) -> Result<()> {
    let delete = sql::render_parts(
        sql::DEDUPE_DELETE_BATCH,
        &[("table", &target.table), ("archive", &target.archive)],
        &[("ids", &Fragment::placeholders(n))],
    );
    let mut params = vec![Value::from(target.run_id.as_str())];
    params.extend(victims.map(Value::from));
    let deleted =
        tx.write(&delete, params).with_context(|| format!("cannot delete the batch from {}", target.table))?;
    if deleted != n as u64 {
        return Err(tx.mismatch(format!(
            "deleting removed {deleted} rows of {} where {n} were archived in this transaction",
            target.table
        )));
    }
    Ok(())
}

/// The usual case in one transaction. `None` (rolled back, nothing changed) when some victim
/// is gone or no longer shares its survivor's key.
fn execute_as_planned(
    conn: &mut Conn,
    target: &Target,
    batch: &[PlanRow],
    started: Instant,
) -> Result<Option<BatchResult>> {
    let n = batch.len();
    let mut tx = target.start(conn)?;
    let pairs = sorted_pairs(batch.iter().map(|r| (r.victim_id.as_str(), r.kept_id.as_str())));
    let mut params = copy_params(&target.run_id, &pairs);
    params.extend(target.rank_params());
    let copied = tx
        .write(&copy_statement(sql::DEDUPE_LOCK_AND_ARCHIVE, target, n), params)
        .with_context(|| format!("cannot lock the batch's rows and copy them into {}", target.archive))?;
    if copied != n as u64 {
        tx.rollback()?;
        return Ok(None);
    }
    let copied_at = started.elapsed();
    delete_victims(&mut tx, target, pairs.iter().map(|(v, _)| *v), n)?;
    let written_at = started.elapsed();
    tx.commit()?;
    log::debug!(
        "batch of {n} rows: lock and copy {copied_at:?}, delete {:?}, commit {:?}",
        written_at - copied_at,
        started.elapsed() - written_at
    );
    let delete = pairs.into_iter().map(|(v, k)| (v.to_string(), k.to_string())).collect();
    Ok(Some(BatchResult {
        archived: n as u64,
        decision: Decision { delete, ..Decision::default() },
        retries: 0,
        duration: started.elapsed(),
        redone: false,
    }))
}

/// A batch some of whose rows changed since the plan: lock every victim and survivor and
/// read their keys' ranks, `decide`, then copy and delete the victims that may go.
fn execute_checked(conn: &mut Conn, target: &Target, batch: &[PlanRow], started: Instant) -> Result<BatchResult> {
    let mut tx = target.start(conn)?;
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
        &[("ids", &Fragment::placeholders(ids.len())), ("created_us", &target.created_us[0])],
    );
    #[allow(clippy::type_complexity)]
    let rows: Vec<(String, i64, u64, Option<String>, Option<i64>)> =
        tx.read(&lock, values(ids)).context("cannot lock the batch's rows (SELECT ... FOR UPDATE)")?;
    let locked: HashMap<String, Locked> = rows
        .into_iter()
        .map(|(id, not_seq, rank, status, created_us)| {
            (id, Locked { key: (not_seq == 0).then_some(rank), status, created_us })
        })
        .collect();
    let decision = decide(batch, &locked, &target.rule);
    let n = decision.delete.len();
    if n > 0 {
        let pairs = sorted_pairs(decision.delete.iter().map(|(v, k)| (v.as_str(), k.as_str())));
        let copied = tx
            .write(&copy_statement(sql::DEDUPE_ARCHIVE_BATCH, target, n), copy_params(&target.run_id, &pairs))
            .with_context(|| format!("cannot copy the batch into {}", target.archive))?;
        if copied != n as u64 {
            return Err(tx.mismatch(format!("archiving copied {copied} rows where {n} were locked")));
        }
        delete_victims(&mut tx, target, pairs.iter().map(|(v, _)| *v), n)?;
    }
    tx.commit()?;
    Ok(BatchResult { archived: n as u64, decision, retries: 0, duration: started.elapsed(), redone: true })
}

/// `execute_batch` under the batch retry policy (`crate::retry`): tried again after a lock
/// wait timeout or a deadlock, which rolled the transaction back, so a retry starts clean.
pub fn execute_batch_with_retry(conn: &mut Conn, target: &Target, batch: &[PlanRow]) -> Result<BatchResult> {
    let (mut r, retries) =
        retry::batch(|| format!("batch of {} victims", batch.len()), || execute_batch(conn, target, batch))?;
    r.retries = retries;
    Ok(r)
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

    /// Rows found by the locking read, all `pending` and in id order by age.
    fn locked(rows: &[(&str, Option<u64>)]) -> HashMap<String, Locked> {
        rows.iter()
            .map(|(id, k)| {
                let age = id.bytes().next().map(i64::from);
                (id.to_string(), Locked { key: *k, status: Some("pending".into()), created_us: age })
            })
            .collect()
    }

    fn with_status(mut m: HashMap<String, Locked>, id: &str, status: Option<&str>) -> HashMap<String, Locked> {
        m.get_mut(id).unwrap().status = status.map(str::to_string);
        m
    }

    fn decide(batch: &[PlanRow], locked: &HashMap<String, Locked>) -> Decision {
        super::decide(batch, locked, &Rule::sent_first())
    }

    #[test]
    fn the_plan_comes_back_from_the_external_sort_whole_and_in_victim_order() {
        let ids = ["m", "c", "x", "a", "q", "b", "z"];
        let rows: Vec<PlanRow> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| PlanRow {
                victim_id: format!("{id}-{i}"),
                kept_id: format!("k{i}"),
                sequence_stepid: String::new(),
                recipient_phone: format!("+60 12 {i}\u{e9}"),
                device_id: "d\u{1f600}".into(),
            })
            .collect();
        let mut expected = rows.clone();
        expected.sort_by(|a, b| a.victim_id.as_bytes().cmp(b.victim_id.as_bytes()));
        // Runs of two rows: several runs written to files, then merged.
        let dir = crate::spill::dir("the test plan").unwrap();
        let mut sorter = plan_sorter(2, dir.path());
        for r in rows {
            sorter.push(r).unwrap();
        }
        let sorted = sorter.done().unwrap();
        assert!(sorted.disk_segment_count() > 1, "the test must go through files");
        let back: Vec<PlanRow> = sorted.map(|r| r.unwrap()).collect();
        assert_eq!(back, expected);
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
    fn never_deletes_a_victim_sent_after_the_plan() {
        let batch = [row("b", "a"), row("c", "a"), row("e", "d")];
        let all = locked(&[("a", Some(1)), ("b", Some(1)), ("c", Some(1)), ("d", Some(2)), ("e", Some(2))]);
        let d = decide(&batch, &with_status(all, "c", Some("sent")));
        assert_eq!(d.delete, vec![("e".into(), "d".into())], "only the untouched group goes");
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(
            (d.skipped[0].kept_id.as_str(), d.skipped[0].rows_kept, d.skipped[0].reason.as_str()),
            ("a", 2, OUTRANKED)
        );
    }

    #[test]
    fn a_victim_with_a_status_the_rule_does_not_rank_keeps_its_group() {
        let batch = [row("b", "a")];
        for status in [Some("delivered"), None] {
            let d = decide(&batch, &with_status(locked(&[("a", Some(1)), ("b", Some(1))]), "b", status));
            assert!(d.delete.is_empty(), "{status:?}");
            assert_eq!(d.skipped[0].reason, NOW_UNKNOWN);
        }
        let d = decide(&batch, &with_status(locked(&[("a", Some(1)), ("b", Some(1))]), "a", Some("read")));
        assert_eq!(d.skipped[0].reason, NOW_UNKNOWN, "the kept row's status counts too");
    }

    #[test]
    fn a_victim_the_rule_still_ranks_after_the_survivor_goes_whatever_changed() {
        // The survivor was sent in the meantime: it ranks first all the more.
        let batch = [row("b", "a")];
        let d = decide(&batch, &with_status(locked(&[("a", Some(1)), ("b", Some(1))]), "a", Some("SENT")));
        assert_eq!(d.delete, vec![("b".into(), "a".into())]);
        // Both sent: the older is kept, as planned.
        let both =
            with_status(with_status(locked(&[("a", Some(1)), ("b", Some(1))]), "a", Some("sent")), "b", Some("sent"));
        assert_eq!(decide(&batch, &both).delete.len(), 1);
    }

    #[test]
    fn under_oldest_status_changes_do_not_matter() {
        let batch = [row("b", "a")];
        let m = with_status(with_status(locked(&[("a", Some(1)), ("b", Some(1))]), "b", Some("sent")), "a", None);
        let d = super::decide(&batch, &m, &Rule::oldest());
        assert_eq!(d.delete, vec![("b".into(), "a".into())]);
    }

    fn target(created_type: &str, rule: Rule) -> Target {
        let col = |name: &str, ty: &str| crate::schema::Column {
            name: name.into(),
            data_type: ty.into(),
            column_type: ty.into(),
            nullable: true,
            charset: None,
            collation: None,
            max_chars: None,
            generated: false,
        };
        let info = TableInfo {
            name: "m".into(),
            engine: "InnoDB".into(),
            collation: None,
            row_format: None,
            estimated_rows: 0,
            columns: vec![col("id", "char"), col("status", "varchar"), col("created_at", created_type)],
            indexes: Vec::new(),
        };
        Target::new(&info, Ident::new("table", "a").unwrap(), "r", rule).unwrap()
    }

    #[test]
    fn the_first_statement_binds_a_value_for_every_mark_under_either_rule() {
        for (ty, expr) in [("timestamp", "UNIX_TIMESTAMP(k.`created_at`)"), ("datetime", "TIMESTAMPDIFF(MICROSECOND")] {
            for rule in [Rule::sent_first(), Rule::oldest()] {
                let t = target(ty, rule.clone());
                let sql = copy_statement(sql::DEDUPE_LOCK_AND_ARCHIVE, &t, 3);
                let body: String =
                    sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
                assert!(!body.contains('{'), "unfilled slot: {body}");
                assert!(body.contains(expr), "{body}");
                let pairs = [("v1", "k1"), ("v2", "k2"), ("v3", "k3")];
                let mut params = copy_params("r", &pairs);
                params.extend(t.rank_params());
                assert_eq!(body.matches('?').count(), params.len(), "{body}");
                assert!(params.len() <= max_placeholders(3, rule.statuses().len()));
                assert_eq!(body.contains("AS kr"), rule.keep() == Keep::SentFirst, "{body}");
            }
        }
        let locked = sql::render_parts(
            sql::DEDUPE_LOCK_BATCH,
            &[("table", &Ident::new("table", "m").unwrap())],
            &[("ids", &Fragment::placeholders(2)), ("created_us", &target("datetime", Rule::oldest()).created_us[0])],
        );
        assert!(
            locked.contains("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', `created_at`) AS created_us"),
            "{locked}"
        );
    }

    #[test]
    fn every_statement_of_the_largest_batch_fits_the_placeholder_limit() {
        let n = crate::dedupe::MAX_BATCH_SIZE as usize;
        assert!(max_placeholders(n, crate::survivor::MAX_STATUSES) <= 65_535);
        assert_eq!(max_placeholders(10, 5), 41);
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
}
