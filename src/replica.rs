//! Replica lag throttling for writers (`--replica URL`, `--max-replica-lag DURATION`):
//! before each batch, read every replica's state and wait while one is too far behind or
//! not replicating, saying why on stderr. Reading the state is `SHOW REPLICA STATUS`
//! (`SHOW SLAVE STATUS` on older servers); its column names differ between servers and
//! versions (`Seconds_Behind_Master` / `Seconds_Behind_Source`, `Slave_IO_Running` /
//! `Replica_IO_Running`), so they are looked up by either name.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;

use crate::config::DbConfig;
use crate::db::{self, Db};
use crate::progress::Progress;

/// A replica we watch.
pub struct Replica {
    db: Db,
}

/// What a replica's status says, relative to the allowed lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Replicating, this many seconds behind (within the limit).
    Fine(u64),
    /// Replicating but further behind than allowed.
    Behind(u64),
    /// Not replicating; the reason.
    Stopped(String),
}

/// Classifies one status row (column name → value). Pure, for unit tests.
pub fn classify(status: &HashMap<String, Option<String>>, max_lag: Duration) -> State {
    let get = |names: &[&str]| names.iter().find_map(|n| status.get(*n).cloned()).flatten();
    let io = get(&["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or_default();
    let sql = get(&["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or_default();
    if !io.eq_ignore_ascii_case("Yes") {
        return State::Stopped(format!("its IO thread is not running (Slave_IO_Running={io})"));
    }
    if !sql.eq_ignore_ascii_case("Yes") {
        return State::Stopped(format!("its SQL thread is not running (Slave_SQL_Running={sql})"));
    }
    match get(&["Seconds_Behind_Master", "Seconds_Behind_Source"]).and_then(|s| s.parse::<u64>().ok()) {
        None => State::Stopped("it reports no lag (Seconds_Behind_Master is NULL)".into()),
        Some(lag) if Duration::from_secs(lag) > max_lag => State::Behind(lag),
        Some(lag) => State::Fine(lag),
    }
}

impl Replica {
    /// Connects to a replica and checks that it is one; an error names the `--replica`.
    pub fn connect(cfg: &DbConfig) -> Result<Replica> {
        let db = db::connect(cfg).with_context(|| format!("--replica {}", cfg.display()))?;
        let mut r = Replica { db };
        if r.status()?.is_none() {
            bail!(
                "--replica {} is not a replica (SHOW REPLICA STATUS returned nothing); check the URL (nothing was changed)",
                r.db.display
            );
        }
        Ok(r)
    }

    pub fn display(&self) -> &str {
        &self.db.display
    }

    fn status(&mut self) -> Result<Option<HashMap<String, Option<String>>>> {
        let stmt = if self.db.server.has_show_replica_status() {
            crate::sql::SHOW_REPLICA_STATUS
        } else {
            crate::sql::SHOW_SLAVE_STATUS
        };
        let display = self.db.display.clone();
        let row: Option<mysql::Row> = self
            .db
            .conn
            .query_first(stmt)
            .with_context(|| format!("cannot read the replication status of --replica {display} (the user needs the REPLICATION CLIENT or SLAVE MONITOR privilege)"))?;
        Ok(row.map(|row| {
            let names: Vec<String> = row.columns_ref().iter().map(|c| c.name_str().to_string()).collect();
            names
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    let v = match row.as_ref(i) {
                        Some(mysql::Value::NULL) | None => None,
                        Some(mysql::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                        Some(v) => Some(v.as_sql(true)),
                    };
                    (n, v)
                })
                .collect()
        }))
    }

    pub fn state(&mut self, max_lag: Duration) -> Result<State> {
        match self.status()? {
            Some(s) => Ok(classify(&s, max_lag)),
            None => Ok(State::Stopped("it is no longer a replica (SHOW REPLICA STATUS is empty)".into())),
        }
    }
}

/// Waits until every replica is within `max_lag`, polling each second and printing why it
/// waits (once per change of reason). Returns how long it waited; stops early (without
/// error) when `stop()` turns true.
pub fn wait_for(
    replicas: &mut [Replica],
    max_lag: Duration,
    progress: &Progress,
    mut stop: impl FnMut() -> bool,
) -> Result<Duration> {
    let start = Instant::now();
    let mut last_reason = String::new();
    loop {
        let mut reason = None;
        for r in replicas.iter_mut() {
            match r.state(max_lag)? {
                State::Fine(_) => {}
                State::Behind(lag) => {
                    reason = Some(format!(
                        "waiting: replica {} is {lag}s behind (limit {}s)",
                        r.display(),
                        max_lag.as_secs()
                    ));
                    break;
                }
                State::Stopped(why) => {
                    reason = Some(format!("waiting: replica {} is not replicating: {why}", r.display()));
                    break;
                }
            }
        }
        let Some(reason) = reason else {
            if !last_reason.is_empty() {
                progress.println("seqfix: replicas caught up; continuing");
            }
            return Ok(start.elapsed());
        };
        if reason != last_reason {
            progress.println(&format!("seqfix: {reason}"));
            last_reason = reason;
        }
        if stop() {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(pairs: &[(&str, Option<&str>)]) -> HashMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn classifies_replica_states() {
        let max = Duration::from_secs(5);
        let ok = status(&[
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", Some("2")),
        ]);
        assert_eq!(classify(&ok, max), State::Fine(2));
        let behind = status(&[
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("9")),
        ]);
        assert_eq!(classify(&behind, max), State::Behind(9));
        let sql_stopped = status(&[
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("No")),
            ("Seconds_Behind_Master", None),
        ]);
        assert!(matches!(classify(&sql_stopped, max), State::Stopped(r) if r.contains("SQL thread")));
        let connecting = status(&[("Slave_IO_Running", Some("Connecting")), ("Slave_SQL_Running", Some("Yes"))]);
        assert!(matches!(classify(&connecting, max), State::Stopped(r) if r.contains("IO thread")));
        let null_lag = status(&[("Slave_IO_Running", Some("Yes")), ("Slave_SQL_Running", Some("Yes"))]);
        assert!(matches!(classify(&null_lag, max), State::Stopped(_)));
    }
}
