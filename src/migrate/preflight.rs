//! The checks `migrate` makes before any DDL, each read-only: key length, existing indexes,
//! duplicates left in the table, and transactions that may hold metadata locks on it (on
//! Galera: on every node, which the ALTER's Total Order Isolation reaches).
//! `checks_pass` runs them in order, cheapest first, and fills the report.
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use serde::Serialize;

use super::{plan, MigrateReport, Options};
use crate::db::{Db, Node};
use crate::ident::Ident;
use crate::schema::TableInfo;

/// How a preflight check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
    /// Left to a later step (e.g. the build itself).
    Deferred,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: CheckStatus,
    pub detail: String,
}

impl Check {
    pub fn new(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> Check {
        Check { name, status, detail: detail.into() }
    }
}

/// Surplus rows the unique index would reject, and in how many groups. `groups` is counted
/// only when surplus rows exist: the cheap exact test runs first, the count only to report.
pub struct Duplicates {
    pub surplus_rows: u64,
    pub groups: u64,
}

pub fn duplicates(db: &mut Db, table: &Ident) -> Result<Duplicates> {
    db.conn.query_drop(crate::sql::SESSION_TUNING).context("cannot set session limits for the duplicate check")?;
    let ctx = || format!("checking {}.{} for duplicate sequence messages", db.database, table);
    let surplus: Option<i64> =
        db.conn.query_first(crate::sql::render(crate::sql::DUPLICATES_EXIST, &[("table", table)])).with_context(ctx)?;
    let surplus_rows = surplus.unwrap_or(0).max(0) as u64;
    if surplus_rows == 0 {
        return Ok(Duplicates { surplus_rows, groups: 0 });
    }
    let groups: Option<u64> =
        db.conn.query_first(crate::sql::render(crate::sql::DUPLICATE_GROUPS, &[("table", table)])).with_context(ctx)?;
    Ok(Duplicates { surplus_rows, groups: groups.unwrap_or(0) })
}

/// A transaction open on the server, as `INNODB_TRX` and `PROCESSLIST` describe it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Trx {
    pub connection_id: u64,
    pub user: String,
    pub host: String,
    pub db: String,
    pub age_s: u64,
    pub command: String,
    pub query: String,
    /// The cluster node it is open on (Galera; `None` on a single server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Trx {
    pub fn describe(&self) -> String {
        let what = if self.query.is_empty() { self.command.clone() } else { format!("running {:?}", self.query) };
        let on = self.node.as_deref().map(|n| format!(" on node {n}")).unwrap_or_default();
        format!(
            "connection {}{on} ({}@{}, db {}, open {} s, {what})",
            self.connection_id, self.user, self.host, self.db, self.age_s
        )
    }
}

/// Transactions open for at least `min_age`; `None` when the user may not see them
/// (INNODB_TRX needs the PROCESS privilege).
pub fn long_transactions(db: &mut Db, min_age: Duration) -> Result<Option<Vec<Trx>>> {
    type Row = (u64, String, String, String, i64, String, String);
    let query =
        crate::sql::render_parts(crate::sql::LONG_TRANSACTIONS, &[], &[("processlist", &db.server.processlist())]);
    let rows: mysql::Result<Vec<Row>> = db.conn.exec(query, (min_age.as_secs(),));
    match rows {
        // One connection can own two InnoDB transactions (an ALTER does); list it once,
        // with its oldest, which comes first.
        Ok(rows) => Ok(Some(
            rows.into_iter()
                .scan(std::collections::HashSet::new(), |seen, r| Some(seen.insert(r.0).then_some(r)))
                .flatten()
                .map(|(connection_id, user, host, db, age, command, query)| Trx {
                    connection_id,
                    user,
                    host,
                    db,
                    age_s: age.max(0) as u64,
                    command,
                    query: query.replace(['\n', '\r'], " "),
                    node: None,
                })
                .collect(),
        )),
        // 1227: "you need the PROCESS privilege"; 1142/1044: no access to the table/schema.
        Err(mysql::Error::MySqlError(e)) if matches!(e.code, 1227 | 1142 | 1044) => Ok(None),
        Err(e) => Err(e).context("cannot list open transactions from information_schema.INNODB_TRX"),
    }
}

/// Transactions open for at least `min_age` where the DDL reaches: on `db`'s server, or, on a
/// Galera cluster (`nodes` not empty), on every node, each named. `None` when the user may
/// not see them on some node.
pub fn long_transactions_everywhere(db: &mut Db, nodes: &mut [Node], min_age: Duration) -> Result<Option<Vec<Trx>>> {
    if nodes.is_empty() {
        return long_transactions(db, min_age);
    }
    let mut all = Vec::new();
    for node in nodes.iter_mut() {
        let found = long_transactions(&mut node.db, min_age)
            .with_context(|| format!("on node {} of the Galera cluster", node.address))?;
        let Some(list) = found else { return Ok(None) };
        all.extend(list.into_iter().map(|t| Trx { node: Some(node.address.clone()), ..t }));
    }
    all.sort_by_key(|t| std::cmp::Reverse(t.age_s));
    Ok(Some(all))
}

/// Outcome of waiting for long transactions to end.
pub enum TrxWait {
    /// None left (after waiting this long).
    Clear(Duration),
    /// The user may not list transactions; rely on lock_wait_timeout.
    NotVisible,
}

/// Waits, re-checking every second, until no transaction has been open for longer than
/// `max_age`, for at most `wait`. Fails naming the transactions when they outlast the wait:
/// an ALTER queued behind one of them would block every new query on the table.
pub fn wait_for_long_transactions(
    db: &mut Db,
    nodes: &mut [Node],
    table: &Ident,
    max_age: Duration,
    wait: Duration,
    mut on_wait: impl FnMut(&[Trx]),
) -> Result<TrxWait> {
    let start = Instant::now();
    loop {
        let Some(list) = long_transactions_everywhere(db, nodes, max_age)? else { return Ok(TrxWait::NotVisible) };
        if list.is_empty() {
            return Ok(TrxWait::Clear(start.elapsed()));
        }
        if crate::interrupt::requested() {
            bail!("interrupted while waiting for long transactions to end; nothing was changed");
        }
        if start.elapsed() >= wait {
            let names: Vec<String> = list.iter().take(5).map(Trx::describe).collect();
            let more = if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
            let (harm, kill) = if nodes.is_empty() {
                ("an ALTER queued behind them would block every query on the table", "KILL <connection>")
            } else {
                (
                    "on a Galera cluster the ALTER (Total Order Isolation) waits for them with every write of every node queued behind it, or aborts them",
                    "KILL <connection> on the node named",
                )
            };
            bail!(
                "{} transaction(s) open for longer than --max-trx-age {} may hold metadata locks on {}.{}: {}{more}; \
                 {harm}, so nothing was changed \
                 (waited {}); let them finish or end them ({kill}), then rerun",
                list.len(),
                humantime::format_duration(max_age),
                db.database,
                table,
                names.join("; "),
                humantime::format_duration(Duration::from_secs(start.elapsed().as_secs())),
            );
        }
        on_wait(&list);
        std::thread::sleep(
            Duration::from_secs(1).min(wait.saturating_sub(start.elapsed())).max(Duration::from_millis(50)),
        );
    }
}

/// The preflight for building the index. Returns false (with `report.refusal` set) when the
/// table is not ready; errors for problems the user must fix first.
pub fn checks_pass(
    db: &mut Db,
    nodes: &mut [Node],
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
        let dups = duplicates(db, table)?;
        report.surplus_rows = Some(dups.surplus_rows);
        report.duplicate_groups = Some(dups.groups);
        let mut refusals = Vec::new();
        if dups.surplus_rows > 0 {
            let line = format!(
                "{} duplicate group(s) ({} surplus rows) remain in {}.{}; the unique index cannot be built until they are gone: run `seqfix dedupe` first; groups it leaves alone (a status its survivor rule does not rank, listed by `seqfix audit`) need --status-rank or a decision by hand (nothing was changed)",
                dups.groups, dups.surplus_rows, db.database, table
            );
            report.preflight.push(Check::new("duplicates", CheckStatus::Fail, line.clone()));
            refusals.push(line);
        } else {
            report.preflight.push(Check::new("duplicates", CheckStatus::Pass, "none"));
        }
        let empty = crate::empty_steps::collisions(db, table, None)?;
        report.empty_step_collisions = Some(empty.colliding_rows);
        match empty.refusal(&db.database, table) {
            Some(line) => {
                report.preflight.push(Check::new("empty steps", CheckStatus::Fail, line.clone()));
                refusals.push(line);
            }
            None => report.preflight.push(Check::new(
                "empty steps",
                CheckStatus::Pass,
                "no two rows with an empty sequence_stepid share phone and device",
            )),
        }
        if !refusals.is_empty() {
            report.refuse(refusals.join("; also, "));
            return Ok(false);
        }
    } else {
        // The exact check costs a full scan, as much as the build itself; the build makes
        // the same check for free: it fails on the first duplicate with ER_DUP_ENTRY and the
        // server rolls it back, after which seqfix counts what remains and refuses.
        report.preflight.push(Check::new(
            "duplicates",
            CheckStatus::Deferred,
            "checked by the index build itself (it stops and rolls back at the first duplicate; --check-duplicates-first checks before building, at the cost of one more full scan)",
        ));
        report.preflight.push(Check::new(
            "empty steps",
            CheckStatus::Deferred,
            "rows with an empty sequence_stepid that share phone and device are duplicates to the index: the build stops at them too, and seqfix then names them",
        ));
    }

    let wait = if opts.dry_run { Duration::ZERO } else { opts.trx_wait };
    let waited = if opts.dry_run {
        match long_transactions_everywhere(db, nodes, opts.max_trx_age)? {
            None => Ok(TrxWait::NotVisible),
            Some(list) if list.is_empty() => Ok(TrxWait::Clear(Duration::ZERO)),
            Some(list) => {
                report.long_transactions = list;
                Err(())
            }
        }
    } else {
        Ok(wait_for_long_transactions(db, nodes, table, opts.max_trx_age, wait, |list| {
            log::warn!(
                "waiting for {} transaction(s) open longer than {} to end: {}",
                list.len(),
                humantime::format_duration(opts.max_trx_age),
                list.iter().map(Trx::describe).collect::<Vec<_>>().join("; ")
            )
        })?)
    };
    let limit = humantime::format_duration(opts.max_trx_age);
    let limit = if nodes.is_empty() {
        limit.to_string()
    } else {
        format!("{limit} on any of the {} nodes ({})", nodes.len(), report.nodes_checked.join(", "))
    };
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
