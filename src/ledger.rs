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

/// Where a recorded run's report keeps what the lifecycle fills in.
pub struct RunFields<'a> {
    /// The run's id, set once the row is written.
    pub id: &'a mut Option<String>,
    /// How the run ended (`None`: the report has no status of its own).
    pub status: Option<&'a mut String>,
    /// How long the run took, in milliseconds, set before the summary is written (`None`:
    /// the report times itself).
    pub elapsed_ms: Option<&'a mut u64>,
}

/// A report that a recorded run fills in, and whose summary the ledger keeps.
pub trait Recorded {
    fn run_fields(&mut self) -> RunFields<'_>;
    /// What `seqfix_runs.summary` keeps (the report itself, or a masked copy).
    fn summary(&self) -> impl Serialize;
    /// What a failed run's error says first: how far it got, and what to do (none: the
    /// operation's own error says it all).
    fn stopped(&self, _run: &Run) -> Option<String> {
        None
    }
}

/// The status a run's result records: interrupted or succeeded, failed on an error.
pub fn status_of(result: &Result<crate::outcome::Outcome>) -> RunStatus {
    match result {
        Ok(crate::outcome::Outcome::Interrupted) => RunStatus::Interrupted,
        Ok(_) => RunStatus::Succeeded,
        Err(_) => RunStatus::Failed,
    }
}

/// The run lifecycle of every command that writes: opens the ledger row (from here on every
/// failure is recorded), runs `op`, then finishes the row as succeeded or interrupted, or
/// fails it, with the report's summary (`close`: a failed run keeps its own error). `db` is
/// the connection that does the work, usually a `LockGuard`; the ledger writes on it too.
/// The run's time counts from `started`.
pub fn recorded<G, R>(
    db: &mut G,
    command: &'static str,
    started: std::time::Instant,
    report: &mut R,
    op: impl FnOnce(&mut G, &mut R, &Run) -> Result<crate::outcome::Outcome>,
) -> Result<crate::outcome::Outcome>
where
    G: std::ops::DerefMut<Target = crate::db::Db>,
    R: Recorded,
{
    let user = db.user.clone();
    let run = start(&mut db.conn, command, &user)?;
    *report.run_fields().id = Some(run.id.clone());
    let result = op(db, report, &run);
    let status = status_of(&result);
    let fields = report.run_fields();
    if let Some(field) = fields.status {
        *field = status.as_str().into();
    }
    if let Some(field) = fields.elapsed_ms {
        *field = started.elapsed().as_millis() as u64;
    }
    close(&mut db.conn, &run, status, &report.summary())?;
    result.map_err(|e| match report.stopped(&run) {
        Some(line) => e.context(line),
        None => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    #[test]
    fn an_interrupted_run_is_recorded_as_interrupted_and_an_error_as_failed() {
        assert_eq!(status_of(&Ok(Outcome::Ok)), RunStatus::Succeeded);
        assert_eq!(status_of(&Ok(Outcome::Interrupted)), RunStatus::Interrupted);
        assert_eq!(status_of(&Err(anyhow::anyhow!("batch 3 failed"))), RunStatus::Failed);
    }
}
