//! The run ledger `seqfix_runs`: every run of a subcommand that writes is recorded with
//! who ran it, where, when, how it ended and its summary as JSON. Writes to the ledger
//! autocommit on their own so they survive a rolled-back batch; a run that dies without
//! finishing stays `running`, which `status` reports.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::Conn;
use serde::Serialize;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A run recorded in the ledger.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub command: &'static str,
}

/// Creates `seqfix_runs` if it is missing.
pub fn ensure(conn: &mut Conn) -> Result<()> {
    conn.query_drop(crate::sql::LEDGER_CREATE)
        .context("cannot create the run ledger table seqfix_runs (does the user have CREATE privilege?)")
}

/// Records the start of a run and returns its id (a new UUID).
pub fn start(conn: &mut Conn, command: &'static str, db_user: &str) -> Result<Run> {
    ensure(conn)?;
    let id = uuid::Uuid::new_v4().to_string();
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into());
    conn.exec_drop(
        crate::sql::LEDGER_START,
        (&id, command, host, std::process::id(), db_user, env!("CARGO_PKG_VERSION")),
    )
    .context("cannot record the run in seqfix_runs")?;
    Ok(Run { id, command })
}

/// Records how a run ended, for a run that may itself have failed: when recording fails,
/// a run that succeeded reports that error, while a failed run keeps its own error (the
/// ledger's is only logged, since the original failure is what the user must see).
pub fn close(conn: &mut Conn, run: &Run, status: RunStatus, summary: &impl Serialize) -> Result<()> {
    match finish(conn, run, status, summary) {
        Err(e) if status == RunStatus::Failed => {
            log::warn!(
                "could not record the failure of run {} in seqfix_runs: {}",
                run.id,
                crate::outcome::chain_text(&e)
            );
            Ok(())
        }
        other => other,
    }
}

/// Records how a run ended, with its summary.
pub fn finish(conn: &mut Conn, run: &Run, status: RunStatus, summary: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string(summary)?;
    conn.exec_drop(crate::sql::LEDGER_FINISH, (status.as_str(), json, &run.id))
        .with_context(|| format!("cannot record the end of run {} in seqfix_runs", run.id))
}
