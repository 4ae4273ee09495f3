//! Running the migration's DDL: the session's `lock_wait_timeout`, retries with backoff after
//! a metadata-lock timeout, and the plain reports of what the server said when it failed.
use std::time::Duration;

use anyhow::{Context, Result};
use mysql::prelude::Queryable;

use super::preflight::{self, Trx};
use super::{plan, MigrateReport, Options};
use crate::db::{self, Db};
use crate::ident::Ident;

/// MySQL error codes the executor reacts to.
pub const ER_DUP_ENTRY: u16 = 1062;
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
pub const ER_ALTER_OPERATION_NOT_SUPPORTED: u16 = 1845;
pub const ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: u16 = 1846;

/// Runs one DDL statement with the session's `lock_wait_timeout` set, retrying with backoff
/// when the metadata lock could not be had in time. Between attempts the statement holds
/// no lock, so the application's queries run.
pub fn run_ddl(db: &mut Db, sql: &str, opts: &Options, report: &mut MigrateReport) -> Result<()> {
    let secs = plan::whole_seconds(opts.lock_wait_timeout);
    db.conn.exec_drop(crate::sql::LOCK_WAIT_TIMEOUT, (secs,)).context("cannot set the session's lock_wait_timeout")?;
    if report.galera.is_some() {
        // Whatever the server's default: RSU would build the index one node at a time.
        db.conn
            .query_drop(crate::sql::SERVER_WSREP_OSU_TOI)
            .context("cannot set the session's wsrep_OSU_method to TOI")?;
    }
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
pub fn duplicate_refusal(
    db: &mut Db,
    table: &Ident,
    err: &anyhow::Error,
    report: &mut MigrateReport,
) -> Result<String> {
    let left = preflight::duplicates(db, table)?;
    report.surplus_rows = Some(left.surplus_rows);
    report.duplicate_groups = Some(left.groups);
    let empty = crate::empty_steps::collisions(db, table, None)?;
    report.empty_step_collisions = Some(empty.colliding_rows);
    let found = server_message(err);
    if let Some(line) = empty.refusal(&db.database, table) {
        // Empty steps that collide are duplicates to the index but not to dedupe: telling the
        // user to run dedupe again would never end.
        let also = if left.surplus_rows > 0 {
            format!(
                "; {} duplicate group(s) ({} surplus rows) remain too: run `seqfix dedupe`",
                left.groups, left.surplus_rows
            )
        } else {
            String::new()
        };
        return Ok(format!("the unique index could not be built ({found}): {line}{also}"));
    }
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
        "{head}; the server rolled the build back, nothing was changed or lost; run `seqfix dedupe`{}, then `seqfix migrate` (groups dedupe leaves alone, a status its survivor rule does not rank, are listed by `seqfix audit`)",
        if left.surplus_rows > 0 { " (again if it already ran)" } else { " if needed" }
    ))
}

/// The server's own message of an error, without our context, phones masked (an
/// ER_DUP_ENTRY message names the key's values; it goes to the history table, the ledger and
/// the refusal line).
pub fn server_message(err: &anyhow::Error) -> String {
    err.chain()
        .find_map(|e| match e.downcast_ref::<mysql::Error>() {
            Some(mysql::Error::MySqlError(m)) => Some(crate::mask::text(&m.message)),
            _ => None,
        })
        .unwrap_or_else(|| crate::outcome::error_line(err))
}
