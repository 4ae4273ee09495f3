//! `seqfix process`: one cron-safe pass of sequence processing. The database decides who
//! runs: an advisory lock on the working connection, a minimum interval read from the run
//! ledger with the server's clock, and the unique index that makes each message insert
//! atomic. The pass is set-based: one snapshot of the due contacts and of their first leads
//! per run, then per batch one read, a pure classification (`plan`) and one transaction
//! holding the messages, the contacts' progress and the log rows together.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Row, TxOpts, Value};
use serde::Serialize;

use crate::config::{Config, Ident};
use crate::db::{Db, LockAttempt};
use crate::ledger::{self, RunStatus};
use crate::progress::Progress;
use crate::schema::{self, ColumnReq, Kind};
use crate::sql;

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
    pub allow_node_local_lock: bool,
    pub allow_without_index: bool,
}

/// Why a run did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    Locked,
    MinInterval,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub already_queued: u64,
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
    pub lock_name: String,
    pub lock_acquired: bool,
    /// Connection id holding the lock when it was busy.
    pub lock_holder: Option<u64>,
    pub skipped: Option<Skip>,
    /// Seconds since the last processing run started (server clock), when known.
    pub last_run_seconds_ago: Option<f64>,
    pub dry_run: bool,
    /// True when the unique index is missing and `--allow-without-index` was given: the
    /// advisory lock is then the only guard against duplicates.
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

// ---------------------------------------------------------------------------------------
// The rules, as a pure function.

/// A step of `sequence_steps`, as read for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub id: String,
    pub message_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
}

/// A device of `user_devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub status: Option<String>,
}

/// One due contact with everything the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub contact_id: String,
    pub sequence_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub current_step: i64,
    /// The sequence's owner.
    pub user_id: String,
    /// NULL never completes a contact (`next > NULL` is not true in SQL either).
    pub total_days: Option<i64>,
    /// The step with `day_number = current_step + 1` (smallest id if several).
    pub step: Option<StepRow>,
    /// The device id of the contact's lead (smallest `leads.id` for phone and user), if any.
    pub lead_device_id: Option<String>,
    /// The `user_devices` row of that lead's device, if it exists.
    pub device: Option<DeviceRow>,
}

impl Candidate {
    pub fn next_step(&self) -> i64 {
        self.current_step + 1
    }
}

/// What the rules decide for a due contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Rule 1: past the last day.
    Complete,
    /// Rule 2: no step for the next day; unchanged.
    NoStep,
    /// Rule 3: no lead for the phone and the sequence's user; unchanged.
    NoLead,
    /// Rule 4: the lead's device is missing, another user's, or not connected/online; unchanged.
    DeviceOffline,
    /// Rule 5: queue the step on this device (or find it already queued), then advance.
    Queue { device_id: String },
}

/// Applies rules 1-4 of the contract in order (rule 5/6, queued vs already queued, depends on
/// what the messages table holds at insert time).
pub fn plan(c: &Candidate) -> Decision {
    if matches!(c.total_days, Some(total) if c.next_step() > total) {
        return Decision::Complete;
    }
    if c.step.is_none() {
        return Decision::NoStep;
    }
    let Some(device_id) = &c.lead_device_id else { return Decision::NoLead };
    match &c.device {
        Some(d)
            if d.id.eq_ignore_ascii_case(device_id)
                && d.user_id.eq_ignore_ascii_case(&c.user_id)
                && matches!(
                    d.status.as_deref().map(str::to_ascii_lowercase).as_deref(),
                    Some("connected" | "online")
                ) =>
        {
            Decision::Queue { device_id: device_id.clone() }
        }
        _ => Decision::DeviceOffline,
    }
}

/// Whether the lock is node-local, from the two server variables (`None`: the variable does
/// not exist on this server). Galera (`wsrep_on`) never shares `GET_LOCK` between nodes; Group
/// Replication shares nothing either, and in multi-primary mode (`single_primary_mode = 0`)
/// another node may run a pass at the same time. Only testable as this function: the test
/// server is neither.
pub fn cluster_refusal(wsrep_on: Option<bool>, gr_single_primary: Option<bool>) -> Option<String> {
    if wsrep_on == Some(true) {
        return Some(
            "this server is a Galera cluster node (wsrep_on = ON): GET_LOCK is local to one node, so runs started \
             against different nodes would not exclude each other; point every cron job at the same node and pass \
             --allow-node-local-lock"
                .into(),
        );
    }
    if gr_single_primary == Some(false) {
        return Some(
            "this server runs Group Replication in multi-primary mode: GET_LOCK is local to one member, so runs \
             started against different members would not exclude each other; point every cron job at the same \
             member and pass --allow-node-local-lock"
                .into(),
        );
    }
    None
}

/// `seqfix.process.<database>`; GET_LOCK names are limited to 64 characters on MySQL, so a
/// long database name is replaced by a fixed SipHash-1-3 of it.
pub fn lock_name(database: &str) -> String {
    let name = format!("seqfix.process.{database}");
    if name.len() <= 64 {
        return name;
    }
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    h.write(database.as_bytes());
    format!("seqfix.process.{:016x}", h.finish())
}

// ---------------------------------------------------------------------------------------
// Tables and the checks before any work.

/// The tables the pass touches, validated.
struct Tables {
    messages: Ident,
    sequences: Ident,
    steps: Ident,
    contacts: Ident,
    leads: Ident,
    devices: Ident,
    logs: Ident,
}

impl Tables {
    fn new(messages: &Ident) -> Result<Tables> {
        Ok(Tables {
            messages: messages.clone(),
            sequences: Ident::new("table", "sequences")?,
            steps: Ident::new("table", "sequence_steps")?,
            contacts: Ident::new("table", "sequence_contacts")?,
            leads: Ident::new("table", "leads")?,
            devices: Ident::new("table", "user_devices")?,
            logs: Ident::new("table", "sequence_logs")?,
        })
    }

    fn render(&self, template: &str) -> String {
        sql::render(
            template,
            &[
                ("table", &self.messages),
                ("sequences", &self.sequences),
                ("steps", &self.steps),
                ("contacts", &self.contacts),
                ("leads", &self.leads),
                ("devices", &self.devices),
                ("logs", &self.logs),
            ],
        )
    }
}

const fn req(name: &'static str, kind: Kind, why: &'static str) -> ColumnReq {
    ColumnReq { name, kind, why }
}

const WHY_MSG: &str = "to queue sequence messages";
const MESSAGES: &[ColumnReq] = &[
    req("id", Kind::ShortText, WHY_MSG),
    req("user_id", Kind::ShortText, WHY_MSG),
    req("device_id", Kind::ShortText, WHY_MSG),
    req("sequence_id", Kind::ShortText, WHY_MSG),
    req("sequence_stepid", Kind::ShortText, WHY_MSG),
    req("recipient_phone", Kind::ShortText, WHY_MSG),
    req("recipient_name", Kind::AnyText, WHY_MSG),
    req("message_type", Kind::AnyText, WHY_MSG),
    req("content", Kind::AnyText, WHY_MSG),
    req("media_url", Kind::AnyText, WHY_MSG),
    req("status", Kind::AnyText, WHY_MSG),
    req("scheduled_at", Kind::Temporal, WHY_MSG),
    req("created_at", Kind::Temporal, WHY_MSG),
];
const SEQUENCES: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to join contacts to their sequence"),
    req("user_id", Kind::ShortText, "to find the sequence's owner"),
    req("total_days", Kind::Integer, "to complete contacts past the last day"),
    req("is_active", Kind::Flag, "to process active sequences only"),
];
const STEPS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to queue a step"),
    req("sequence_id", Kind::ShortText, "to find a sequence's steps"),
    req("day_number", Kind::Integer, "to find the next step"),
    req("message_type", Kind::AnyText, WHY_MSG),
    req("content", Kind::AnyText, WHY_MSG),
    req("media_url", Kind::AnyText, WHY_MSG),
];
const CONTACTS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to identify contacts"),
    req("sequence_id", Kind::ShortText, "to find the contact's sequence"),
    req("contact_phone", Kind::ShortText, "to find the contact's lead"),
    req("contact_name", Kind::AnyText, WHY_MSG),
    req("current_step", Kind::Integer, "to find and record the contact's step"),
    req("status", Kind::AnyText, "to process active contacts only"),
    req("completed_at", Kind::Temporal, "to complete contacts"),
    req("next_trigger_time", Kind::Temporal, "to find due contacts"),
];
const LEADS: &[ColumnReq] = &[
    req("id", Kind::Integer, "to pick the first lead of a phone"),
    req("phone", Kind::ShortText, "to find a contact's lead"),
    req("user_id", Kind::ShortText, "to find a contact's lead"),
    req("device_id", Kind::ShortText, "to find the lead's device"),
];
const DEVICES: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to find the lead's device"),
    req("user_id", Kind::ShortText, "to check who owns the device"),
    req("status", Kind::AnyText, "to send through connected devices only"),
];
const LOGS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to log queued steps"),
    req("sequence_id", Kind::ShortText, "to log queued steps"),
    req("contact_id", Kind::ShortText, "to log queued steps"),
    req("step_id", Kind::ShortText, "to log queued steps"),
    req("day", Kind::Integer, "to log queued steps"),
    req("status", Kind::AnyText, "to log queued steps"),
    req("message_id", Kind::AnyText, "to log queued steps"),
];

/// Schema check of every table; returns whether the messages table has the unique index.
fn check_schema(db: &mut Db, t: &Tables) -> Result<bool> {
    let info = schema::check(db, &t.messages, MESSAGES)?;
    for (table, cols) in [
        (&t.sequences, SEQUENCES),
        (&t.steps, STEPS),
        (&t.contacts, CONTACTS),
        (&t.leads, LEADS),
        (&t.devices, DEVICES),
        (&t.logs, LOGS),
    ] {
        schema::check(db, table, cols)?;
    }
    Ok(info.unique_key_index().is_some())
}

/// Proves the user may write what the pass writes, before anything is written: statements
/// that change no row still make the server check INSERT/UPDATE privileges, and they run in
/// a transaction that is rolled back. Temporary tables are checked by the snapshot itself,
/// which is built before the ledger row.
fn check_privileges(db: &mut Db, t: &Tables) -> Result<()> {
    let user = db.user.clone();
    let database = db.database.clone();
    let mut tx = db.conn.start_transaction(TxOpts::default())?;
    for (template, table, what) in [
        (sql::PROCESS_PROBE_INSERT, &t.messages, "INSERT"),
        (sql::PROCESS_PROBE_INSERT, &t.logs, "INSERT"),
        (sql::PROCESS_PROBE_UPDATE, &t.contacts, "UPDATE"),
    ] {
        let stmt = sql::render(template, &[("table", table)]);
        if let Err(e) = tx.query_drop(&stmt) {
            let e = anyhow::Error::from(e);
            if matches!(crate::db::server_error_code(&e), Some(1142 | 1143)) {
                bail!(
                    "user {user} may not {what} {database}.{table}: seqfix process needs SELECT on the sequence tables, \
                     INSERT on {} and sequence_logs, UPDATE on sequence_contacts, CREATE TEMPORARY TABLES, and \
                     CREATE, INSERT, UPDATE on seqfix_runs (GRANT them, or use --dry-run, which needs only SELECT and \
                     CREATE TEMPORARY TABLES)",
                    t.messages
                );
            }
            return Err(e).with_context(|| format!("cannot check write privileges on {database}.{table}"));
        }
    }
    tx.rollback()?;
    Ok(())
}

/// Reads a server variable that may not exist (error 1193 → `None`).
fn optional_flag(conn: &mut Conn, query: &str) -> Result<Option<bool>> {
    match conn.query_first::<Value, _>(query) {
        Ok(v) => Ok(v.and_then(|v| match v {
            Value::Int(n) => Some(n != 0),
            Value::UInt(n) => Some(n != 0),
            Value::Bytes(b) => {
                let s = String::from_utf8_lossy(&b).to_ascii_uppercase();
                Some(s == "1" || s == "ON")
            }
            _ => None,
        })),
        Err(e) => {
            let e = anyhow::Error::from(e);
            if crate::db::server_error_code(&e) == Some(1193) {
                Ok(None)
            } else {
                Err(e).context("cannot read the server's cluster settings")
            }
        }
    }
}

fn check_cluster(db: &mut Db, allow: bool) -> Result<()> {
    let wsrep = optional_flag(&mut db.conn, sql::PROCESS_WSREP_ON)?;
    let gr = optional_flag(&mut db.conn, sql::PROCESS_GROUP_REPLICATION_MODE)?;
    if let Some(why) = cluster_refusal(wsrep, gr) {
        if allow {
            log::warn!("{why} (continuing: --allow-node-local-lock)");
        } else {
            bail!("{why}");
        }
    }
    Ok(())
}

/// READ COMMITTED unless the binary log is statement-based (see read_committed.sql).
fn tune_session(conn: &mut Conn) -> Result<()> {
    let row: Option<(Option<i64>, Option<String>)> = conn.query_first(sql::PROCESS_BINLOG_FORMAT)?;
    let statement_log = matches!(row, Some((Some(1), Some(f))) if f.eq_ignore_ascii_case("STATEMENT"));
    if !statement_log {
        conn.query_drop(sql::PROCESS_READ_COMMITTED)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The run.

/// Runs the guards, then the pass. Errors before the lock change nothing.
pub fn run(db: &mut Db, cfg: &Config, opts: &Options) -> Result<ProcessReport> {
    let started = Instant::now();
    let t = Tables::new(&cfg.table)?;
    let has_index = check_schema(db, &t)?;
    if !opts.dry_run {
        check_privileges(db, &t)?;
    }
    check_cluster(db, opts.allow_node_local_lock)?;
    if !has_index && !opts.allow_without_index {
        bail!(
            "table {}.{} has no unique index on (sequence_stepid, recipient_phone, device_id): without it two runs \
             can queue the same message; run `seqfix migrate` to add it (or pass --allow-without-index to rely on \
             the advisory lock alone)",
            db.database,
            t.messages
        );
    }
    tune_session(&mut db.conn)?;
    let name = lock_name(&db.database);
    let mut report = ProcessReport {
        run_id: None,
        database: db.database.clone(),
        table: t.messages.to_string(),
        lock_name: name.clone(),
        lock_acquired: false,
        lock_holder: None,
        skipped: None,
        last_run_seconds_ago: None,
        dry_run: opts.dry_run,
        without_index: !has_index,
        guard: if has_index {
            "unique index and advisory lock".into()
        } else {
            "advisory lock only (no unique index: run `seqfix migrate`)".into()
        },
        due: 0,
        batches: 0,
        counts: Counts::default(),
        interrupted: false,
        elapsed_seconds: 0.0,
    };
    let user = db.user.clone();
    let mut lock = match db.try_lock(&name, opts.lock_timeout)? {
        LockAttempt::Acquired(g) => g,
        LockAttempt::Busy { holder } => {
            log::info!(
                "another process run holds the lock {name:?} (connection {}); skipping",
                holder.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into())
            );
            report.lock_holder = holder;
            report.skipped = Some(Skip::Locked);
            report.elapsed_seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    };
    report.lock_acquired = true;

    // Under the lock, so that two runs cannot both pass the interval check.
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
                return Ok(report);
            }
        }
    }

    // The snapshot comes before the ledger row, so a missing privilege to create temporary
    // tables fails with nothing recorded.
    report.due = snapshot(&mut lock.conn, &t, opts.limit)?;
    let run = if opts.dry_run { None } else { Some(ledger::start(&mut lock.conn, "process", &user)?) };
    report.run_id = run.as_ref().map(|r| r.id.clone());

    let result = pass(&mut lock, cfg, &t, opts, has_index, &mut report);
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(()) if report.interrupted => RunStatus::Interrupted,
        Ok(()) => RunStatus::Succeeded,
        Err(_) => RunStatus::Failed,
    };
    if let Some(run) = &run {
        if let Err(e) = ledger::finish(&mut lock.conn, run, status, &report) {
            match &result {
                Ok(()) => return Err(e),
                Err(_) => log::warn!("{e:#}"),
            }
        }
    }
    let _ = lock.conn.query_drop(sql::PROCESS_DROP_TEMPORARY);
    result.map(|()| report)
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
    lock: &mut crate::db::LockGuard<'_>,
    cfg: &Config,
    t: &Tables,
    opts: &Options,
    has_index: bool,
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
        let mut attempt = 0;
        let counts = loop {
            attempt += 1;
            let candidates = read_batch(&mut lock.conn, &batch_read, &cursor, &last)?;
            let result = if opts.dry_run {
                dry_batch(&mut lock.conn, t, &candidates)
            } else {
                apply_batch(&mut lock.conn, t, &candidates, opts.step_interval_secs, has_index)
            };
            match result {
                // Deadlock or lock wait timeout with the application: the transaction was
                // rolled back whole; read the batch again.
                Err(e) if attempt < 3 && matches!(crate::db::server_error_code(&e), Some(1213 | 1205)) => {
                    log::warn!("batch after {cursor:?} rolled back ({e:#}); retrying");
                }
                other => break other?,
            }
        };
        report.counts.add(&counts);
        report.batches += 1;
        bar.inc(n);
        cursor = last;
    }
    bar.finish();
    Ok(())
}

fn text(row: &mut Row, i: usize) -> Option<String> {
    row.take::<Option<String>, _>(i).flatten()
}

/// Reads one batch: one candidate per contact (the joins are all primary-key lookups, so a
/// contact yields one row; the check on repeats only guards the invariant).
fn read_batch(conn: &mut Conn, stmt: &str, after: &str, last: &str) -> Result<Vec<Candidate>> {
    let rows: Vec<Row> = conn.exec(stmt, (after, last)).context("cannot read a batch of due contacts")?;
    let mut out: Vec<Candidate> = Vec::with_capacity(rows.len());
    for mut r in rows {
        let contact_id = text(&mut r, 0).unwrap_or_default();
        if out.last().map(|c| c.contact_id == contact_id).unwrap_or(false) {
            continue;
        }
        let step_id = text(&mut r, 7);
        let device_id = text(&mut r, 13);
        out.push(Candidate {
            contact_id,
            sequence_id: text(&mut r, 1).unwrap_or_default(),
            phone: text(&mut r, 2).unwrap_or_default(),
            name: text(&mut r, 3),
            current_step: r.take::<Option<i64>, _>(4).flatten().unwrap_or(0),
            user_id: text(&mut r, 5).unwrap_or_default(),
            total_days: r.take::<Option<i64>, _>(6).flatten(),
            step: step_id.map(|id| StepRow {
                id,
                message_type: text(&mut r, 8).unwrap_or_default(),
                content: text(&mut r, 9),
                media_url: text(&mut r, 10),
            }),
            lead_device_id: {
                let lead_id = r.take::<Option<i64>, _>(11).flatten();
                lead_id.and(text(&mut r, 12))
            },
            device: device_id.map(|id| DeviceRow {
                id,
                user_id: text(&mut r, 14).unwrap_or_default(),
                status: text(&mut r, 15),
            }),
        });
    }
    Ok(out)
}

/// The unique key of a message.
type Key = (String, String, String);

fn key(c: &Candidate, device_id: &str) -> Key {
    let step = c.step.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    (step.to_lowercase(), c.phone.to_lowercase(), device_id.to_lowercase())
}

/// Keys of `queue` that already exist in the messages table (one query for the batch).
fn existing_keys(conn: &mut impl Queryable, t: &Tables, queue: &[(&Candidate, String)]) -> Result<HashSet<Key>> {
    if queue.is_empty() {
        return Ok(HashSet::new());
    }
    let steps: Vec<String> =
        queue.iter().map(|(c, _)| c.step.as_ref().unwrap().id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let phones: Vec<String> = queue.iter().map(|(c, _)| c.phone.clone()).collect::<HashSet<_>>().into_iter().collect();
    let stmt = sql::repeat(
        &sql::repeat(&t.render(sql::PROCESS_EXISTING), "step_marks", "?", steps.len()),
        "phone_marks",
        "?",
        phones.len(),
    );
    let params: Vec<Value> = steps.into_iter().chain(phones).map(Value::from).collect();
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        conn.exec(stmt, params).context("cannot look up existing messages")?;
    Ok(rows
        .into_iter()
        .map(|(s, p, d)| {
            (
                s.unwrap_or_default().to_lowercase(),
                p.unwrap_or_default().to_lowercase(),
                d.unwrap_or_default().to_lowercase(),
            )
        })
        .collect())
}

/// Splits a batch by decision, counting the ones that change nothing.
fn classify<'a>(
    candidates: &'a [Candidate],
    counts: &mut Counts,
) -> (Vec<&'a Candidate>, Vec<(&'a Candidate, String)>) {
    let mut complete = Vec::new();
    let mut queue = Vec::new();
    for c in candidates {
        match plan(c) {
            Decision::Complete => complete.push(c),
            Decision::NoStep => counts.no_step += 1,
            Decision::NoLead => counts.no_lead += 1,
            Decision::DeviceOffline => counts.device_offline += 1,
            Decision::Queue { device_id } => queue.push((c, device_id)),
        }
    }
    (complete, queue)
}

/// `--dry-run`: what the batch would do, without writing.
fn dry_batch(conn: &mut Conn, t: &Tables, candidates: &[Candidate]) -> Result<Counts> {
    let mut counts = Counts::default();
    let (complete, queue) = classify(candidates, &mut counts);
    counts.completed = complete.len() as u64;
    let mut existing = existing_keys(conn, t, &queue)?;
    for (c, device_id) in &queue {
        if existing.insert(key(c, device_id)) {
            counts.queued += 1;
        } else {
            counts.already_queued += 1;
        }
    }
    Ok(counts)
}

/// Groups contacts by the step they were read at, for the guarded updates.
fn by_step<'a>(contacts: impl Iterator<Item = &'a Candidate>) -> BTreeMap<i64, Vec<&'a str>> {
    let mut m: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for c in contacts {
        m.entry(c.current_step).or_default().push(c.contact_id.as_str());
    }
    m
}

/// One batch in one transaction: lock the contacts that change, queue messages, advance or
/// complete contacts, write log rows, commit. A crash at any point leaves all or nothing.
fn apply_batch(
    conn: &mut Conn,
    t: &Tables,
    candidates: &[Candidate],
    step_secs: u64,
    has_index: bool,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let (complete, queue) = classify(candidates, &mut counts);
    if complete.is_empty() && queue.is_empty() {
        return Ok(counts);
    }
    let mut tx = conn.start_transaction(TxOpts::default()).context("cannot start a transaction")?;

    // Lock and re-read the contacts that change; keep those still due at the step we read.
    let ids: Vec<&str> = complete
        .iter()
        .map(|c| c.contact_id.as_str())
        .chain(queue.iter().map(|(c, _)| c.contact_id.as_str()))
        .collect();
    let stmt = sql::repeat(&t.render(sql::PROCESS_LOCK_CONTACTS), "ids", "?", ids.len());
    let locked: Vec<(String, i64, Option<i64>)> =
        tx.exec(stmt, ids.clone()).context("cannot lock the batch's contacts")?;
    let current: HashMap<String, (i64, bool)> =
        locked.into_iter().map(|(id, step, due)| (id, (step, due == Some(1)))).collect();
    let unchanged = |c: &Candidate| current.get(&c.contact_id) == Some(&(c.current_step, true));
    let complete: Vec<&Candidate> = complete.into_iter().filter(|c| unchanged(c)).collect();
    let queue: Vec<(&Candidate, String)> = queue.into_iter().filter(|(c, _)| unchanged(c)).collect();
    counts.changed = (ids.len() - complete.len() - queue.len()) as u64;

    // Without the unique index nothing makes the insert atomic: look first (the advisory
    // lock is the only guard against a concurrent writer).
    let mut seen = if has_index { HashSet::new() } else { existing_keys(&mut tx, t, &queue)? };
    let mut to_insert: Vec<(&Candidate, &str, String)> = Vec::new();
    let mut already: Vec<&Candidate> = Vec::new();
    for (c, device_id) in &queue {
        // A key twice in one batch (a phone enrolled twice in a sequence): the first queues it.
        if seen.insert(key(c, device_id)) {
            let device_id: &str = device_id;
            to_insert.push((c, device_id, uuid::Uuid::new_v4().to_string()));
        } else {
            already.push(c);
        }
    }
    let mut queued: Vec<(&Candidate, String)> = Vec::new();
    if !to_insert.is_empty() {
        let stmt = sql::repeat(
            &t.render(sql::PROCESS_INSERT_MESSAGES),
            "rows",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NOW(), NOW())",
            to_insert.len(),
        );
        let mut params: Vec<Value> = Vec::with_capacity(to_insert.len() * 10);
        for (c, device_id, id) in &to_insert {
            let step = c.step.as_ref().unwrap();
            params.extend([
                Value::from(id.as_str()),
                Value::from(c.user_id.as_str()),
                Value::from(*device_id),
                Value::from(c.sequence_id.as_str()),
                Value::from(step.id.as_str()),
                Value::from(c.phone.as_str()),
                c.name.as_deref().map(Value::from).unwrap_or(Value::NULL),
                Value::from(step.message_type.as_str()),
                step.content.as_deref().map(Value::from).unwrap_or(Value::NULL),
                step.media_url.as_deref().map(Value::from).unwrap_or(Value::NULL),
            ]);
        }
        tx.exec_drop(stmt, params).with_context(|| format!("cannot insert messages into {}", t.messages))?;
        let new_ids: Vec<&str> = to_insert.iter().map(|(_, _, id)| id.as_str()).collect();
        let stmt = sql::repeat(&t.render(sql::PROCESS_INSERTED), "ids", "?", new_ids.len());
        let present: HashSet<String> = tx.exec::<String, _, _>(stmt, new_ids)?.into_iter().collect();
        for (c, _, id) in to_insert {
            if present.contains(&id) {
                queued.push((c, id));
            } else {
                already.push(c);
            }
        }
    }

    // Advance every contact whose message now exists, guarded by the step we read.
    let advance = by_step(queued.iter().map(|(c, _)| *c).chain(already.iter().copied()));
    for (step, ids) in &advance {
        let stmt = sql::repeat(&t.render(sql::PROCESS_ADVANCE), "ids", "?", ids.len());
        let mut params: Vec<Value> = vec![Value::from(step + 1), Value::from(step_secs)];
        params.extend(ids.iter().map(|id| Value::from(*id)));
        params.push(Value::from(*step));
        tx.exec_drop(stmt, params).context("cannot advance contacts")?;
        if tx.affected_rows() != ids.len() as u64 {
            bail!("advancing {} contacts changed {} rows; rolled back", ids.len(), tx.affected_rows());
        }
    }
    for (step, ids) in &by_step(complete.iter().copied()) {
        let stmt = sql::repeat(&t.render(sql::PROCESS_COMPLETE), "ids", "?", ids.len());
        let mut params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
        params.push(Value::from(*step));
        tx.exec_drop(stmt, params).context("cannot complete contacts")?;
        if tx.affected_rows() != ids.len() as u64 {
            bail!("completing {} contacts changed {} rows; rolled back", ids.len(), tx.affected_rows());
        }
    }
    if !queued.is_empty() {
        let stmt =
            sql::repeat(&t.render(sql::PROCESS_INSERT_LOGS), "rows", "(?, ?, ?, ?, ?, 'queued', ?)", queued.len());
        let mut params: Vec<Value> = Vec::with_capacity(queued.len() * 6);
        for (c, message_id) in &queued {
            params.extend([
                Value::from(uuid::Uuid::new_v4().to_string()),
                Value::from(c.sequence_id.as_str()),
                Value::from(c.contact_id.as_str()),
                Value::from(c.step.as_ref().unwrap().id.as_str()),
                Value::from(c.next_step()),
                Value::from(message_id.as_str()),
            ]);
        }
        tx.exec_drop(stmt, params).context("cannot write sequence_logs rows")?;
    }
    tx.commit().context("cannot commit the batch")?;
    counts.queued = queued.len() as u64;
    counts.already_queued = already.len() as u64;
    counts.completed = complete.len() as u64;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due() -> Candidate {
        Candidate {
            contact_id: "c1".into(),
            sequence_id: "s1".into(),
            phone: "60123".into(),
            name: Some("Ann".into()),
            current_step: 1,
            user_id: "u1".into(),
            total_days: Some(3),
            step: Some(StepRow {
                id: "st2".into(),
                message_type: "text".into(),
                content: Some("hi".into()),
                media_url: None,
            }),
            lead_device_id: Some("d1".into()),
            device: Some(DeviceRow { id: "d1".into(), user_id: "u1".into(), status: Some("connected".into()) }),
        }
    }

    #[test]
    fn queues_on_a_connected_or_online_device() {
        assert_eq!(plan(&due()), Decision::Queue { device_id: "d1".into() });
        let mut c = due();
        c.device.as_mut().unwrap().status = Some("online".into());
        assert_eq!(plan(&c), Decision::Queue { device_id: "d1".into() });
        // The last day itself is still queued.
        c.current_step = 2;
        assert_eq!(plan(&c), Decision::Queue { device_id: "d1".into() });
    }

    #[test]
    fn completes_past_the_last_day_before_anything_else() {
        let mut c = due();
        c.current_step = 3;
        c.step = None;
        c.lead_device_id = None;
        assert_eq!(plan(&c), Decision::Complete);
        c.total_days = Some(0);
        c.current_step = 0;
        assert_eq!(plan(&c), Decision::Complete);
        // NULL total_days never completes.
        c.total_days = None;
        assert_eq!(plan(&c), Decision::NoStep);
    }

    #[test]
    fn no_step_comes_before_no_lead() {
        let mut c = due();
        c.step = None;
        c.lead_device_id = None;
        assert_eq!(plan(&c), Decision::NoStep);
    }

    #[test]
    fn no_lead_comes_before_the_device() {
        let mut c = due();
        c.lead_device_id = None;
        c.device = None;
        assert_eq!(plan(&c), Decision::NoLead);
    }

    #[test]
    fn device_must_exist_belong_to_the_user_and_be_connected() {
        let mut c = due();
        c.device = None;
        assert_eq!(plan(&c), Decision::DeviceOffline);
        let mut c = due();
        c.device.as_mut().unwrap().user_id = "u2".into();
        assert_eq!(plan(&c), Decision::DeviceOffline);
        for status in [Some("offline"), Some("disconnected"), None] {
            let mut c = due();
            c.device.as_mut().unwrap().status = status.map(String::from);
            assert_eq!(plan(&c), Decision::DeviceOffline, "{status:?}");
        }
    }

    #[test]
    fn cluster_decision() {
        assert_eq!(cluster_refusal(None, None), None);
        assert_eq!(cluster_refusal(Some(false), None), None);
        assert_eq!(cluster_refusal(None, Some(true)), None);
        assert!(cluster_refusal(Some(true), None).unwrap().contains("Galera"));
        assert!(cluster_refusal(None, Some(false)).unwrap().contains("multi-primary"));
        assert!(cluster_refusal(Some(true), Some(false)).unwrap().contains("--allow-node-local-lock"));
    }

    #[test]
    fn lock_names_fit_in_64_characters() {
        assert_eq!(lock_name("app"), "seqfix.process.app");
        let long = "d".repeat(64);
        let n = lock_name(&long);
        assert!(n.len() <= 64 && n.starts_with("seqfix.process."), "{n}");
        assert_eq!(n, lock_name(&long));
        assert_ne!(n, lock_name(&"e".repeat(64)));
    }
}
