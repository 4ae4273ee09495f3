//! What the batches of `dedupe` and `restore` need to know about the server, read once per
//! run: how the batch transaction sends its statements (`crate::txn`, shared with
//! `process`), and the batch size the cluster's write-set limits allow.
//!
//! Every victim of a batch is two rows of its write set (the archive insert and the
//! delete; for restore the insert back and the archive delete): `cap_batch_size` keeps a
//! batch under `wsrep_max_ws_rows` / `wsrep_max_ws_size` / `group_replication_transaction_size_limit`,
//! which would otherwise fail every batch at COMMIT (error 1180) however often it is retried.
use std::fmt;

use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;
use serde::Serialize;

use crate::db::{self, Db, WriteSetLimit, WriteSetUnit};
use crate::ident::Ident;
use crate::sql;

/// The batch transaction itself lives at the database layer, shared with `process`.
pub use crate::txn::{BatchTx, Statements};

/// Rows one victim adds to a batch's write set: the archive insert and the delete (restore:
/// the insert back and the archive delete, or the step set back and the archive delete).
pub const ROWS_PER_VICTIM: u64 = 2;

/// Rows and bytes every batch adds whatever its size: the lease's renewal (one row of
/// `seqfix_leases`, whose image is at most about 700 bytes).
pub const ROWS_PER_BATCH: u64 = 1;
pub const BYTES_PER_BATCH: u64 = 1024;

/// What the batches need to know about the server, read once per run.
#[derive(Debug, Clone)]
pub struct BatchServer {
    pub statements: Statements,
    pub limits: Vec<WriteSetLimit>,
    /// The table's average row length as the engine estimates it (0: unknown), asked only
    /// when a limit counts bytes.
    pub avg_row_bytes: u64,
}

impl BatchServer {
    /// Reads the cluster kind, the write-set limits and, on Galera, the sql_mode; `table`'s
    /// average row length when a limit counts bytes.
    pub fn read(db: &mut Db, table: &Ident) -> Result<BatchServer> {
        let cluster = db::node_cluster(db)?;
        let statements = match cluster {
            Some(db::Cluster::Galera) => Statements::for_galera(db)?,
            _ => Statements::Prepared,
        };
        let limits = db::write_set_limits(db, cluster.as_ref())?;
        let mut avg_row_bytes = 0;
        if limits.iter().any(|l| l.unit == WriteSetUnit::Bytes) {
            let avg: Option<Option<u64>> = db
                .conn
                .exec_first(sql::DEDUPE_AVG_ROW_LENGTH, (table.as_str(),))
                .with_context(|| format!("cannot read the average row length of {table}"))?;
            avg_row_bytes = avg.flatten().unwrap_or(0);
        }
        Ok(BatchServer { statements, limits, avg_row_bytes })
    }

    /// The batch size to use for `requested`, and the cap when a limit lowered it.
    pub fn batch_size(&self, requested: usize) -> Result<(usize, Option<BatchCap>)> {
        cap_batch_size(requested, &self.limits, bytes_per_victim(self.avg_row_bytes))
    }
}

/// Bytes one victim adds to a write set, estimated from the table's average row length:
/// two row images, each taken at twice the average (rows vary; the estimate must not fall
/// short) plus 256 bytes for the archive's own columns, keys and the write set's headers.
/// Pure.
pub fn bytes_per_victim(avg_row_bytes: u64) -> u64 {
    ROWS_PER_VICTIM * (2 * avg_row_bytes.max(64) + 256)
}

/// A batch size lowered to fit a write-set limit: in the report (JSON `batch_cap`) and its
/// human line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchCap {
    /// `--batch-size` as asked.
    pub requested: usize,
    /// The batch size used.
    pub capped_to: usize,
    /// The limiting variable and its value.
    pub variable: String,
    pub value: u64,
    pub unit: WriteSetUnit,
    /// What one victim weighs in that unit (rows, or estimated bytes).
    pub per_victim: u64,
}

impl fmt::Display for BatchCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch size {} capped to {} by {} = {}", self.requested, self.capped_to, self.variable, self.value)?;
        match self.unit {
            WriteSetUnit::Rows => write!(f, " ({} write-set rows per victim)", self.per_victim),
            WriteSetUnit::Bytes => write!(f, " bytes (about {} write-set bytes per victim)", self.per_victim),
        }
    }
}

/// The largest batch size, at most `requested`, whose write set fits every limit with a 5%
/// margin: `ROWS_PER_VICTIM` rows and `bytes_per_victim` bytes per victim, plus the lease's
/// `ROWS_PER_BATCH` / `BYTES_PER_BATCH` once. A capped size is
/// rounded down to a multiple of 100 (of 10 under 100), so the report reads plainly. The
/// cap names the limit that lowered it most. Fails when a limit cannot hold even one
/// victim. Pure.
pub fn cap_batch_size(
    requested: usize,
    limits: &[WriteSetLimit],
    bytes_per_victim: u64,
) -> Result<(usize, Option<BatchCap>)> {
    let mut size = requested;
    let mut cap = None;
    for l in limits {
        let (per_victim, per_batch) = match l.unit {
            WriteSetUnit::Rows => (ROWS_PER_VICTIM, ROWS_PER_BATCH),
            WriteSetUnit::Bytes => (bytes_per_victim.max(1), BYTES_PER_BATCH),
        };
        let budget = (l.value - l.value / 20).saturating_sub(per_batch);
        let fits = budget / per_victim;
        if fits == 0 {
            bail!(
                "{} = {} cannot hold the write set of one batch row ({per_victim} {} per victim): raise it, e.g. SET GLOBAL {} = {} (nothing was changed)",
                l.variable,
                l.value,
                if l.unit == WriteSetUnit::Rows { "rows" } else { "bytes" },
                l.variable,
                (per_victim * 1000 + per_batch) * 21 / 20
            );
        }
        if fits >= size as u64 {
            continue;
        }
        let rounded = match fits {
            0..10 => fits,
            10..100 => fits / 10 * 10,
            _ => fits / 100 * 100,
        };
        // Below `size`, which is a usize.
        size = rounded as usize;
        cap = Some(BatchCap {
            requested,
            capped_to: size,
            variable: l.variable.to_string(),
            value: l.value,
            unit: l.unit,
            per_victim,
        });
    }
    Ok((size, cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(value: u64) -> WriteSetLimit {
        WriteSetLimit { variable: "wsrep_max_ws_rows", value, unit: WriteSetUnit::Rows }
    }

    fn bytes(variable: &'static str, value: u64) -> WriteSetLimit {
        WriteSetLimit { variable, value, unit: WriteSetUnit::Bytes }
    }

    #[test]
    fn no_limit_keeps_the_batch_size_asked() {
        assert_eq!(cap_batch_size(1000, &[], 1000).unwrap(), (1000, None));
    }

    #[test]
    fn wsrep_max_ws_rows_1500_caps_1000_victims_to_700() {
        // 2 rows per victim and the lease's 1: 1,000 victims are 2,001 rows; 1,425 rows (5%
        // margin) hold 712.
        let (size, cap) = cap_batch_size(1000, &[rows(1500)], 1000).unwrap();
        assert_eq!(size, 700);
        let cap = cap.unwrap();
        assert_eq!(
            cap.to_string(),
            "batch size 1000 capped to 700 by wsrep_max_ws_rows = 1500 (2 write-set rows per victim)"
        );
        assert!(size as u64 * ROWS_PER_VICTIM + ROWS_PER_BATCH <= 1500);
    }

    #[test]
    fn a_batch_that_fits_is_left_as_asked() {
        assert_eq!(cap_batch_size(500, &[rows(1500)], 1000).unwrap(), (500, None));
        assert_eq!(cap_batch_size(712, &[rows(1500)], 1000).unwrap(), (712, None));
    }

    #[test]
    fn small_limits_round_to_tens_then_units_and_one_victim_must_fit() {
        assert_eq!(cap_batch_size(1000, &[rows(150)], 1).unwrap().0, 70);
        // 10 rows: the lease's 1 and 4 victims of 2 (9 rows).
        assert_eq!(cap_batch_size(1000, &[rows(10)], 1).unwrap().0, 4);
        assert_eq!(cap_batch_size(1000, &[rows(3)], 1).unwrap().0, 1);
        for too_small in [1, 2] {
            let err = cap_batch_size(1000, &[rows(too_small)], 1).unwrap_err().to_string();
            assert!(
                err.contains(&format!("wsrep_max_ws_rows = {too_small} cannot hold"))
                    && err.contains("nothing was changed"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_tightest_limit_wins_and_is_named() {
        let per = bytes_per_victim(300);
        assert_eq!(per, 2 * (600 + 256));
        // 1 MiB with a 5% margin holds 581 victims of 1,712 bytes: 500.
        let limits = [rows(1_000_000), bytes("wsrep_max_ws_size", 1 << 20)];
        let (size, cap) = cap_batch_size(1000, &limits, per).unwrap();
        assert_eq!(size, 500);
        let cap = cap.unwrap();
        assert_eq!(cap.variable, "wsrep_max_ws_size");
        assert!(size as u64 * per <= 1 << 20);
        assert_eq!(
            cap.to_string(),
            "batch size 1000 capped to 500 by wsrep_max_ws_size = 1048576 bytes (about 1712 write-set bytes per victim)"
        );
        let both = [bytes("group_replication_transaction_size_limit", 1 << 20), rows(300)];
        let (size, cap) = cap_batch_size(1000, &both, per).unwrap();
        assert_eq!((size, cap.unwrap().variable.as_str()), (100, "wsrep_max_ws_rows"));
    }

    #[test]
    fn galera_defaults_never_cap() {
        // wsrep_max_ws_size defaults to 2 GiB; rows of 2 KB on average.
        let limits = [bytes("wsrep_max_ws_size", 2_147_483_647)];
        assert_eq!(cap_batch_size(10_000, &limits, bytes_per_victim(2048)).unwrap(), (10_000, None));
    }
}
