//! `seqfix_schema_history`: which migrations were applied to which table, when, by whom.
//! The table is created only when something is recorded, so a refused or dry run leaves the
//! database exactly as it was. Each write autocommits on its own: the DDL between "started"
//! and "finished" commits implicitly anyway.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;

use super::plan::{HistoryRow, Migration};
use crate::db::Db;
use crate::ident::Ident;

/// The recorded history of `table`; empty when the history table does not exist yet.
pub fn load(db: &mut Db, table: &Ident) -> Result<Vec<HistoryRow>> {
    let exists: Option<u64> =
        db.conn.query_first(crate::sql::HISTORY_EXISTS).context("cannot look for the table seqfix_schema_history")?;
    if exists.unwrap_or(0) == 0 {
        return Ok(Vec::new());
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        u32,
        String,
        String,
        String,
        Option<String>,
        i64,
        String,
        String,
        String,
        Option<u64>,
        Option<String>,
    )> = db
        .conn
        .exec(crate::sql::HISTORY_SELECT, (table.as_str(),))
        .context("cannot read the migration history from seqfix_schema_history")?;
    Ok(rows
        .into_iter()
        .map(
            |(
                version,
                name,
                checksum,
                started_at,
                finished_at,
                success,
                installed_by,
                host,
                seqfix_version,
                ms,
                error,
            )| {
                HistoryRow {
                    version,
                    name,
                    checksum,
                    started_at,
                    finished_at,
                    success: success != 0,
                    installed_by,
                    host,
                    seqfix_version,
                    execution_ms: ms,
                    error,
                }
            },
        )
        .collect())
}

fn ensure(db: &mut Db) -> Result<()> {
    db.conn.query_drop(crate::sql::HISTORY_CREATE).context(
        "cannot create the migration history table seqfix_schema_history (does the user have CREATE privilege?)",
    )
}

/// Records `m` as started on `table` (replacing a failed or unfinished earlier attempt).
pub fn start(db: &mut Db, table: &Ident, m: &Migration) -> Result<()> {
    ensure(db)?;
    db.conn
        .exec_drop(
            crate::sql::HISTORY_START,
            (table.as_str(), m.version, m.name, m.checksum(), host(), env!("CARGO_PKG_VERSION")),
        )
        .with_context(|| format!("cannot record the start of {} in seqfix_schema_history", m.label()))
}

/// Marks a started migration finished: `Ok` as succeeded, `Err(message)` as failed.
pub fn finish(db: &mut Db, table: &Ident, m: &Migration, ms: u64, result: Result<(), String>) -> Result<()> {
    let (success, error) = match result {
        Ok(()) => (1, None),
        Err(e) => (0, Some(e)),
    };
    db.conn
        .exec_drop(crate::sql::HISTORY_FINISH, (success, ms, error, table.as_str(), m.version))
        .with_context(|| format!("cannot record the end of {} in seqfix_schema_history", m.label()))
}

/// Records a migration whose effect was found already in place, as started and finished at once.
pub fn record_applied(db: &mut Db, table: &Ident, m: &Migration) -> Result<()> {
    start(db, table, m)?;
    finish(db, table, m, 0, Ok(()))
}

/// Forgets a reverted migration.
pub fn delete(db: &mut Db, table: &Ident, m: &Migration) -> Result<()> {
    db.conn
        .exec_drop(crate::sql::HISTORY_DELETE, (table.as_str(), m.version))
        .with_context(|| format!("cannot remove {} from seqfix_schema_history", m.label()))
}

fn host() -> String {
    hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into())
}
