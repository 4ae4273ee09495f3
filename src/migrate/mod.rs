//! `seqfix migrate`: adds the unique index online, safely and idempotently, from the
//! migrations in `sql/migrations/`, recording each in `seqfix_schema_history`.
//!
//! Order of work for `up`: advisory lock (one migrate per database) → history read and
//! verified (`plan`) → schema check → for each migration: is its index already there? →
//! preflight (key length, long transactions; duplicates too with `--check-duplicates-first`
//! or `--dry-run`) → "started" row → the ALTER with a short `lock_wait_timeout`, retried with
//! backoff → "finished" row. Every check before the "started" row is read-only, so a refusal
//! there changes nothing at all; the build itself is the exact duplicate check otherwise
//! (it fails with ER_DUP_ENTRY and the server rolls it back), leaving one failed history row.
//!
//! On a Galera node the DDL is the whole cluster's: it runs as Total Order Isolation, and
//! every write on every node waits for it. So `migrate` refuses a DDL there unless
//! `--galera-toi` accepts the stall (the refusal happens before anything else is asked or
//! locked), and otherwise works across the cluster: it connects to every node
//! (`wsrep_incoming_addresses`) with the run's credentials, takes its advisory lock on each of
//! them in one order (GET_LOCK is node-local; the run that locks the first node goes on, a
//! second waits there for `--lock-wait-timeout` and stops without a trace), and looks for long
//! transactions on each, since TOI reaches them all. A node it cannot reach is a refusal.
pub mod ddl;
pub mod history;
pub mod plan;
pub mod preflight;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::config::Config;
use crate::db::{self, Db, GaleraNode, Node};
use crate::ident::Ident;
use crate::ledger::{self, RunStatus};
use crate::schema::{self, ColumnReq, Kind, TableInfo, UNIQUE_INDEX_NAME};
use plan::{Entry, IndexVerdict, Migration, State};
use preflight::{Check, CheckStatus, Trx};

/// What `migrate` needs of the messages table: the three key columns, indexable as they are.
pub const KEY_COLUMN_REQS: &[ColumnReq] = &[
    ColumnReq { name: "sequence_stepid", kind: Kind::ShortText, why: "for the unique index" },
    ColumnReq { name: "recipient_phone", kind: Kind::ShortText, why: "for the unique index" },
    ColumnReq { name: "device_id", kind: Kind::ShortText, why: "for the unique index" },
];

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
    /// On a Galera node, run the DDL as Total Order Isolation anyway (a maintenance window).
    pub galera_toi: bool,
}

/// How long a node's share of migrate's cluster-wide lock outlives silence: the session is
/// idle while the ALTER runs on the working connection, which can take hours on a big table.
/// A seqfix that dies closes it at once (and TCP keepalive notices a vanished host).
pub const GALERA_LOCK_KEEP: Duration = Duration::from_secs(24 * 3600);

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
    /// Rows with an empty sequence_stepid the index would reject (when checked).
    pub empty_step_collisions: Option<u64>,
    /// ALTER attempts made (more than one after lock-wait timeouts).
    pub attempts: u32,
    pub preflight_ms: u64,
    pub build_ms: Option<u64>,
    pub notes: Vec<String>,
    /// What this node says about its Galera cluster (`None`: not a Galera node, or `--status`).
    pub galera: Option<GaleraNode>,
    /// The nodes whose open transactions were checked (and on which the lock was taken):
    /// every node of a Galera cluster; empty on a single server (only it was checked).
    pub nodes_checked: Vec<String>,
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
            empty_step_collisions: None,
            attempts: 0,
            preflight_ms: 0,
            build_ms: None,
            notes: vec![],
            galera: None,
            nodes_checked: vec![],
            refusal: None,
        }
    }

    /// Adds a reason to refuse (several are joined into the one line).
    pub fn refuse(&mut self, line: String) {
        self.refusal = Some(match self.refusal.take() {
            Some(earlier) => format!("{earlier}; also, {line}"),
            None => line,
        });
    }
}

/// Runs `migrate` as `opts` asks.
pub fn run(db: &mut Db, cfg: &Config, opts: &Options) -> Result<MigrateReport> {
    let table = &cfg.table;
    let mut report = MigrateReport::new(db, table, opts);
    let down = opts.action == Action::Down;
    let galera = if opts.action == Action::Status { None } else { db::galera_node(db)? };
    report.galera = galera.clone();
    if opts.action == Action::Status || opts.dry_run {
        // Read-only: no lock, nothing recorded.
        let (entries, info) = survey(db, table)?;
        let mut nodes = Vec::new();
        if let Some(g) = &galera {
            if plan::needs_ddl(down, &entries, &info.indexes) {
                match reach_nodes(cfg, g, &mut report) {
                    Some(reached) => nodes = reached,
                    None => {
                        finish_lines(db, table, &mut report)?;
                        return Ok(report);
                    }
                }
            }
        }
        Work { db: &mut *db, table, opts, report: &mut report, run: None, galera: galera.as_ref(), nodes: &mut nodes }
            .apply(&entries, &info)?;
        finish_lines(db, table, &mut report)?;
        return Ok(report);
    }
    crate::db::refuse_read_only(db, "migrate")?;
    let name = crate::db::migrate_lock_name(&db.database);
    let what = "seqfix migrate on this database";
    // Dropped last: the lock on this server, or each node's share of it on a Galera cluster.
    let mut nodes: Vec<Node> = Vec::new();
    let mut local: Option<db::LockGuard> = None;
    let db: &mut Db = match &galera {
        None => local.insert(db.lock_or_fail(&name, opts.lock_wait_timeout, what)?),
        Some(g) => {
            // Refused before any other node is asked or locked: nothing changed, nothing held.
            let (entries, info) = survey(db, table)?;
            if plan::needs_ddl(down, &entries, &info.indexes) && !opts.galera_toi {
                report.refuse(plan::galera_refusal(g.cluster_size, down, info.estimated_rows));
                finish_lines(db, table, &mut report)?;
                return Ok(report);
            }
            let Some(reached) = reach_nodes(cfg, g, &mut report) else {
                finish_lines(db, table, &mut report)?;
                return Ok(report);
            };
            nodes = reached;
            db::lock_every_node(&mut nodes, &name, opts.lock_wait_timeout, GALERA_LOCK_KEEP, what)?;
            db
        }
    };
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
    let mut work =
        Work { db: &mut *db, table, opts, report: &mut report, run: None, galera: galera.as_ref(), nodes: &mut nodes };
    let result = work.apply(&entries, &info);
    let run = work.run;
    if let Some(run) = run {
        let status = match &result {
            Ok(()) if report.refusal.is_none() => RunStatus::Succeeded,
            _ if crate::interrupt::requested() => RunStatus::Interrupted,
            _ => RunStatus::Failed,
        };
        let summary = serde_json::json!({
            "table": report.table, "action": report.action, "applied": report.applied,
            "already_applied": report.already_applied, "recorded": report.recorded, "reverted": report.reverted,
            "refusal": report.refusal, "error": result.as_ref().err().map(crate::outcome::error_line),
            "attempts": report.attempts, "build_ms": report.build_ms,
        });
        if let Err(e) = ledger::finish(&mut db.conn, &run, status, &summary) {
            log::warn!("{}", crate::outcome::chain_text(&e));
        }
    }
    result?;
    finish_lines(db, table, &mut report)?;
    Ok(report)
}

/// Connects to every node of this node's Galera cluster, sorted by address (the lock's
/// order). `None`, with the refusal in the report, when one cannot be reached: the checks
/// and the lock must cover every node the DDL reaches.
fn reach_nodes(cfg: &Config, g: &GaleraNode, report: &mut MigrateReport) -> Option<Vec<Node>> {
    if g.addresses.is_empty() {
        report.refuse(format!(
            "this server is a node of a {}-node Galera cluster but names no node's SQL address (wsrep_incoming_addresses is empty): migrate checks every node for open transactions and locks every node, so it cannot run; set wsrep_node_incoming_address on the nodes; nothing was changed",
            g.cluster_size
        ));
        return None;
    }
    match db::connect_nodes(&cfg.db, &g.addresses) {
        Ok(nodes) => {
            report.nodes_checked = g.addresses.clone();
            Some(nodes)
        }
        Err((address, why)) => {
            report.refuse(format!(
                "cannot reach node {address} of the {}-node Galera cluster ({why}): migrate checks every node for open transactions (Total Order Isolation reaches them all) and holds its lock on every node, so it stops; make that node reachable from here with the same user and password (the addresses come from wsrep_incoming_addresses, set by wsrep_node_incoming_address), then rerun; nothing was changed",
                g.cluster_size
            ));
            None
        }
    }
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

/// What `up` and `down` work on: the connection, the table, the options, the report they
/// fill, and the run's ledger row, written by `begin` just before the first change.
struct Work<'a> {
    db: &'a mut Db,
    table: &'a Ident,
    opts: &'a Options,
    report: &'a mut MigrateReport,
    run: Option<ledger::Run>,
    /// This node's Galera facts: the DDL would run as Total Order Isolation.
    galera: Option<&'a GaleraNode>,
    /// Every node of the Galera cluster (empty on a single server), for the checks.
    nodes: &'a mut [Node],
}

impl Work<'_> {
    /// Records the run in the ledger before its first write (once).
    fn begin(&mut self) -> Result<()> {
        if self.run.is_none() {
            self.run = Some(ledger::start(&mut self.db.conn, "migrate", &self.db.user)?);
        }
        Ok(())
    }

    /// On a Galera node, before a DDL: refuses it (`false`) unless `--galera-toi` accepts the
    /// stall, which the preflight then states. A dry run goes on to show the rest.
    fn galera_gate(&mut self, down: bool, info: &TableInfo) -> bool {
        let Some(g) = self.galera else { return true };
        if self.opts.galera_toi {
            let line = plan::galera_warning(g.cluster_size, down, info.estimated_rows);
            self.report.preflight.push(Check::new("galera", CheckStatus::Warn, line));
            self.report.sql.push(crate::sql::SERVER_WSREP_OSU_TOI.lines().filter(|l| !l.starts_with("--")).collect());
            return true;
        }
        let line = plan::galera_refusal(g.cluster_size, down, info.estimated_rows);
        self.report.preflight.push(Check::new("galera", CheckStatus::Fail, line.clone()));
        self.report.refuse(line);
        self.opts.dry_run
    }

    /// The action asked for, on the history and table `survey` read.
    fn apply(&mut self, entries: &[Entry], info: &TableInfo) -> Result<()> {
        match self.opts.action {
            Action::Status => Ok(()),
            Action::Up => self.up(entries, info),
            Action::Down => self.down(entries, info),
        }
    }

    fn up(&mut self, entries: &[Entry], info: &TableInfo) -> Result<()> {
        for e in entries {
            let m = &e.migration;
            let verdict = plan::index_verdict(&info.indexes);
            if let IndexVerdict::Conflict { definition } = &verdict {
                bail!(
                    "table {}.{} already has an index named {UNIQUE_INDEX_NAME} defined as {definition}, not UNIQUE (sequence_stepid, recipient_phone, device_id): seqfix will not replace it; drop or rename it (ALTER TABLE {} DROP INDEX {UNIQUE_INDEX_NAME}) and rerun",
                    self.db.database,
                    self.table,
                    self.table.quoted()
                );
            }
            if let Some(row) = &e.row {
                match e.state {
                    State::Unfinished => self.report.notes.push(format!(
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
                    State::Failed => self.report.notes.push(format!(
                        "{} failed at {}: {}; it runs again",
                        m.label(),
                        row.finished_at.as_deref().unwrap_or("?"),
                        row.error.as_deref().unwrap_or("no error recorded")
                    )),
                    State::Applied if verdict == IndexVerdict::Absent => self.report.notes.push(format!(
                        "{} is recorded as applied at {} but the index is missing (dropped outside seqfix?); it runs again",
                        m.label(),
                        row.started_at
                    )),
                    _ => {}
                }
            }
            match (&verdict, e.state) {
                (IndexVerdict::Present { .. }, State::Applied) => {
                    self.report.already_applied.push(m.version);
                    continue;
                }
                (IndexVerdict::Present { name }, _) => {
                    if name != UNIQUE_INDEX_NAME {
                        self.report.notes.push(format!(
                            "the unique index exists as `{name}` (created outside seqfix); {} is recorded as applied without building another",
                            m.label()
                        ));
                    }
                    if !self.opts.dry_run {
                        self.begin()?;
                        history::record_applied(self.db, self.table, m)?;
                    }
                    self.report.already_applied.push(m.version);
                    self.report.recorded.push(m.version);
                    continue;
                }
                _ => {}
            }
            if !self.galera_gate(false, info) {
                return Ok(());
            }
            let started = Instant::now();
            if !preflight::checks_pass(self.db, self.nodes, self.table, self.opts, info, self.report)? {
                self.report.preflight_ms = started.elapsed().as_millis() as u64;
                return Ok(());
            }
            self.report.preflight_ms = started.elapsed().as_millis() as u64;
            let sql = crate::sql::render(m.up, &[("table", self.table)]);
            self.report
                .sql
                .push(format!("SET SESSION lock_wait_timeout = {}", plan::whole_seconds(self.opts.lock_wait_timeout)));
            self.report.sql.push(sql.clone());
            if self.opts.dry_run {
                continue;
            }
            self.begin()?;
            history::start(self.db, self.table, m)?;
            let build = Instant::now();
            let result = ddl::run_ddl(self.db, &sql, self.opts, self.report);
            let ms = build.elapsed().as_millis() as u64;
            self.report.build_ms = Some(ms);
            match result {
                Ok(()) => {
                    history::finish(self.db, self.table, m, ms, Ok(()))?;
                    self.report.applied.push(m.version);
                }
                Err(err) => {
                    let recorded = match db::server_error_code(&err) {
                        Some(ddl::ER_DUP_ENTRY) => {
                            format!("the build stopped at a duplicate: {}", ddl::server_message(&err))
                        }
                        _ => crate::outcome::error_line(&err),
                    };
                    // If the connection itself is gone, the row stays unfinished (the next run settles
                    // it from the schema); the DDL's error is the one to self.report.
                    if let Err(e) = history::finish(self.db, self.table, m, ms, Err(recorded)) {
                        log::warn!("{}", crate::outcome::chain_text(&e));
                        return Err(err);
                    }
                    if db::server_error_code(&err) == Some(ddl::ER_DUP_ENTRY) {
                        self.report.refusal = Some(ddl::duplicate_refusal(self.db, self.table, &err, self.report)?);
                        return Ok(());
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn down(&mut self, entries: &[Entry], info: &TableInfo) -> Result<()> {
        let Some(e) = entries.iter().rev().find(|e| e.state == State::Applied) else {
            self.report.notes.push(format!(
                "no migration is recorded as applied to {}.{}; nothing to revert",
                self.db.database, self.table
            ));
            return Ok(());
        };
        let m: &Migration = &e.migration;
        let named = info.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(UNIQUE_INDEX_NAME));
        if !named {
            if let Some(other) = present_index(info) {
                bail!(
                    "the unique index on {}.{} is `{other}`, created outside seqfix: seqfix only drops the index it creates ({UNIQUE_INDEX_NAME}); drop it yourself (ALTER TABLE {} DROP INDEX `{other}`) if that is what you want",
                    self.db.database,
                    self.table,
                    self.table.quoted()
                );
            }
        }
        let sql = crate::sql::render(m.down, &[("table", self.table)]);
        if named && !self.galera_gate(true, info) {
            return Ok(());
        }
        if named {
            self.report
                .sql
                .push(format!("SET SESSION lock_wait_timeout = {}", plan::whole_seconds(self.opts.lock_wait_timeout)));
            self.report.sql.push(sql.clone());
        } else {
            self.report
                .notes
                .push(format!("the index {UNIQUE_INDEX_NAME} is already gone; only the history row is removed"));
        }
        if self.opts.dry_run {
            self.report.reverted.push(m.version);
            return Ok(());
        }
        self.begin()?;
        if named {
            let started = Instant::now();
            ddl::run_ddl(self.db, &sql, self.opts, self.report)?;
            self.report.build_ms = Some(started.elapsed().as_millis() as u64);
        }
        history::delete(self.db, self.table, m)?;
        self.report.reverted.push(m.version);
        Ok(())
    }
}
