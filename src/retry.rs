//! The one retry policy for a batch transaction that lost to the application's writes: a
//! lock wait timeout (1205) or a deadlock (1213). Used by every batch loop (dedupe, its
//! empty-steps remedy, restore, process), so they all behave alike under contention.
//!
//! After either error the batch's transaction is gone: the server rolls a deadlocked
//! transaction back itself, and after a lock wait timeout (which the server rolls back only
//! per statement, unless `innodb_rollback_on_timeout`) the batch drops its `Transaction`,
//! which rolls back the rest. A retry therefore starts clean and decides again from what it
//! reads then. A batch transaction on Galera that the server no longer had open when the
//! batch checked before COMMIT (`TransactionLost`, `txn`) is retried alike: its
//! writes are gone, as after a deadlock, and it was never counted. Any other error is
//! returned at once.
//! See <https://dev.mysql.com/doc/refman/8.4/en/innodb-deadlocks.html>.
use std::time::Duration;

use anyhow::Result;

use crate::db;

/// How many times a batch is tried again after a lock wait timeout or a deadlock (so at
/// most `1 + BATCH_RETRIES` attempts).
pub const BATCH_RETRIES: u32 = 5;

/// Lock wait timeout: the batch waited `innodb_lock_wait_timeout` for a row lock.
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// Deadlock: the server chose this batch's transaction as the victim.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// A batch transaction the server no longer had open when the batch asked before its next
/// statement or its COMMIT: on Galera, another node's conflicting write aborted it and the
/// abort was lost, so statements went on returning OK while its writes were gone. Treated
/// like a deadlock: retried, never counted as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionLost;

impl std::fmt::Display for TransactionLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the batch's transaction was no longer open on the server (aborted by a conflicting write on another \
             Galera node); its writes are gone and nothing of it was counted",
        )
    }
}

impl std::error::Error for TransactionLost {}

/// True for the errors a batch is retried on.
pub fn is_retryable(err: &anyhow::Error) -> bool {
    matches!(db::server_error_code(err), Some(ER_LOCK_WAIT_TIMEOUT | ER_LOCK_DEADLOCK))
        || err.chain().any(|e| e.is::<TransactionLost>())
}

/// The pause before retry `retry` (1-based): 100 ms more for each one, so the application's
/// transaction that won has time to commit (at most 0.5 s, 1.5 s in all).
pub fn pause(retry: u32) -> Duration {
    Duration::from_millis(100 * u64::from(retry))
}

/// Runs `attempt` under the policy: again after a pause on a lock wait timeout or a
/// deadlock, at most `BATCH_RETRIES` times. Returns its value and how many retries it took;
/// `what` names the batch in the warning logged before each retry.
pub fn batch<T>(what: impl Fn() -> String, mut attempt: impl FnMut() -> Result<T>) -> Result<(T, u32)> {
    let mut retries = 0;
    loop {
        match attempt() {
            Ok(v) => return Ok((v, retries)),
            Err(e) if retries < BATCH_RETRIES && is_retryable(&e) => {
                retries += 1;
                let pause = pause(retries);
                log::warn!(
                    "{} rolled back ({}); retrying ({retries}/{BATCH_RETRIES}) in {} ms",
                    what(),
                    crate::outcome::chain_text(&e),
                    pause.as_millis()
                );
                std::thread::sleep(pause);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16) -> anyhow::Error {
        anyhow::Error::new(mysql::Error::MySqlError(mysql::MySqlError {
            state: "HY000".into(),
            message: "test".into(),
            code,
        }))
        .context("the batch")
    }

    #[test]
    fn pauses_grow_by_a_tenth_of_a_second() {
        assert_eq!(pause(1), Duration::from_millis(100));
        assert_eq!(pause(BATCH_RETRIES), Duration::from_millis(500));
    }

    #[test]
    fn retries_lock_wait_timeouts_and_deadlocks_only() {
        assert!(is_retryable(&server_error(1205)));
        assert!(is_retryable(&server_error(1213)));
        assert!(!is_retryable(&server_error(1062)));
        assert!(!is_retryable(&anyhow::anyhow!("not a server error")));
    }

    #[test]
    fn retries_a_transaction_the_server_lost_like_a_deadlock() {
        assert!(is_retryable(&anyhow::Error::new(TransactionLost).context("commit")));
        let mut tries = 0;
        let (v, retries) = batch(
            || "batch".into(),
            || {
                tries += 1;
                if tries == 1 {
                    Err(anyhow::Error::new(TransactionLost))
                } else {
                    Ok(tries)
                }
            },
        )
        .unwrap();
        assert_eq!((v, retries), (2, 1));
    }

    #[test]
    fn a_batch_that_loses_twice_succeeds_on_the_third_attempt() {
        let mut tries = 0;
        let (v, retries) = batch(
            || "batch".into(),
            || {
                tries += 1;
                if tries < 3 {
                    Err(server_error(if tries == 1 { 1205 } else { 1213 }))
                } else {
                    Ok(7)
                }
            },
        )
        .unwrap();
        assert_eq!((v, retries, tries), (7, 2, 3));
    }

    #[test]
    fn gives_up_after_the_last_retry_with_the_servers_error() {
        let mut tries = 0;
        let err = batch(
            || "batch".into(),
            || -> Result<()> {
                tries += 1;
                Err(server_error(1213))
            },
        )
        .unwrap_err();
        assert_eq!(tries, 1 + BATCH_RETRIES);
        assert_eq!(db::server_error_code(&err), Some(1213));
    }

    #[test]
    fn any_other_error_is_returned_at_once() {
        let mut tries = 0;
        let err = batch(
            || "batch".into(),
            || -> Result<()> {
                tries += 1;
                Err(server_error(1062))
            },
        )
        .unwrap_err();
        assert_eq!(tries, 1);
        assert_eq!(db::server_error_code(&err), Some(1062));
    }
}
