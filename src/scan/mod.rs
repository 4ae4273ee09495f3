//! The read-only scan that finds duplicate sequence messages, shared by `audit`, `dedupe`
//! and `status`. It hands the caller one `NearGroup` at a time: every (step, device, near
//! weight) partition holding more than one row, split into exact groups (the unique
//! index's equality, and nothing else). The near weight is the phone's collation weight
//! without punctuation and spacing, so a partition is a union of exact groups and its
//! several groups, if any, are near-duplicates.
//!
//! Two passes, each a series of short statements, so that the cost grows with the table
//! and no read view is held for long:
//! 1. `walk`: the table read once in primary-key order, in chunks; per row only the id, a
//!    kind and a 64-bit fingerprint of the partition key (from the collation weights, on
//!    the server) come back, and `candidates` keeps on disk which fingerprints repeat;
//! 2. `confirm`: the rows of repeated fingerprints read again by id with their weights,
//!    sorted and grouped on the client by the weights themselves, so that a fingerprint
//!    collision can never merge two groups, and every row of every group is found (equal
//!    keys always have equal fingerprints).
//!
//! Memory is bounded (the sort's runs, one bucket of fingerprints, a bit a row), not
//! proportional to the table; `weights` asks the collations what to trim.
pub mod candidates;
pub mod confirm;
pub mod walk;
pub mod weights;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::db::Db;
use crate::ident::Ident;
use crate::schema::TableInfo;
use crate::sql::Fragment;

/// One row of a duplicate or near-duplicate group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copy {
    pub id: String,
    pub recipient_phone: String,
    pub sequence_id: Option<String>,
    pub status: Option<String>,
    /// `created_at` in microseconds since the Unix epoch, at the column's full precision
    /// (`created_us`); `None` when NULL.
    pub created_us: Option<i64>,
}

impl crate::survivor::Candidate for Copy {
    fn id(&self) -> &str {
        &self.id
    }
    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    fn created_us(&self) -> Option<i64> {
        self.created_us
    }
}

/// Rows sharing (sequence_stepid, recipient_phone, device_id) under the column collation.
/// `copies` is in survivor order: `copies[0]` is the row a dedupe keeps. The scan hands
/// groups over in the original rule's order (`survivor::oldest_order`); `audit` and
/// `dedupe` put them in the chosen rule's order (`survivor::Rule::arrange`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExactGroup {
    pub sequence_stepid: String,
    pub device_id: String,
    pub recipient_phone: String,
    pub copies: Vec<Copy>,
}

impl ExactGroup {
    pub fn survivor(&self) -> &Copy {
        &self.copies[0]
    }

    pub fn victims(&self) -> &[Copy] {
        &self.copies[1..]
    }

    pub fn is_duplicate(&self) -> bool {
        self.copies.len() > 1
    }
}

/// All rows of one (step, device, near weight) partition, split into exact groups.
/// More than one exact group means near-duplicates: phones that differ only in
/// punctuation or spacing, which the unique index will not catch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearGroup {
    pub groups: Vec<ExactGroup>,
}

/// The original survivor rule's order: oldest `created_at` first, NULL counting as newest,
/// ties broken by the smallest `id` (compared as bytes). Deterministic, so a second dedupe
/// deletes nothing.
pub fn survivor_order(a: &Copy, b: &Copy) -> std::cmp::Ordering {
    crate::survivor::oldest_order(a, b)
}

/// Splits a partition's rows into exact groups by the rank of the phone's collation weight
/// within the partition (equal rank = equal under the collation; `Grouper` numbers them)
/// and puts each group in survivor order. Pure, for unit tests.
pub fn split_partition(rows: Vec<(u64, String, String, Copy)>) -> NearGroup {
    // (phone rank, step, device, copy); step and device are equal within a partition.
    let mut groups: Vec<(u64, ExactGroup)> = Vec::new();
    for (rank, step, device, copy) in rows {
        match groups.iter_mut().find(|(r, _)| *r == rank) {
            Some((_, g)) => g.copies.push(copy),
            None => groups.push((
                rank,
                ExactGroup {
                    sequence_stepid: step,
                    device_id: device,
                    recipient_phone: copy.recipient_phone.clone(),
                    copies: vec![copy],
                },
            )),
        }
    }
    let mut groups: Vec<ExactGroup> = groups.into_iter().map(|(_, g)| g).collect();
    for g in &mut groups {
        g.copies.sort_by(survivor_order);
    }
    NearGroup { groups }
}

/// The progress line of a scan of `table`: a bar of the rows read of the server's
/// estimate, with the rate and an ETA.
pub fn progress_message(table: &str) -> String {
    format!("scanning {table}")
}

/// What the report says the scan could not promise: it reads the table in chunks, each at
/// its own moment, not as one snapshot.
pub const NO_SNAPSHOT: &str = "read in primary-key chunks, not one snapshot: rows inserted or changed behind \
     the walk are not counted (dedupe re-checks each group under lock before it deletes)";

/// What the pass saw in total.
#[derive(Debug, Clone, Default)]
pub struct ScanTotals {
    /// Rows whose step is neither NULL nor empty.
    pub sequence_messages: u64,
    /// Rows whose step is the empty string (under the column's collation): no sequence to
    /// the application, left out of the groups.
    pub empty_steps: u64,
    pub stats: ScanStats,
}

/// How the scan went, for the reports (`scan` in the JSON) and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ScanStats {
    /// Statements of the walk.
    pub chunks: u64,
    pub rows_read: u64,
    /// Rows whose fingerprint repeats, weighed and grouped exactly.
    pub candidate_rows: u64,
    /// Statements that weighed the candidates' key values (`confirm::Weigher`).
    pub lookups: u64,
    /// The most the scan's temporary files held at once.
    pub spill_bytes: u64,
    /// The longest single statement, in milliseconds.
    pub longest_statement_ms: u64,
    pub seconds: f64,
    pub snapshot: &'static str,
}

impl ScanStats {
    fn statement(&mut self, took: Duration) {
        self.longest_statement_ms = self.longest_statement_ms.max(took.as_millis() as u64);
    }

    /// Notes the size of the files under `dir` now, if it is the most so far.
    fn spilled(&mut self, dir: &std::path::Path) {
        let bytes: u64 = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        self.spill_bytes = self.spill_bytes.max(bytes);
    }
}

/// The error for a scanned row of unexpected types: the columns' names and types, never
/// their values (a row holds a phone number).
fn unexpected_shape(row: &mysql::Row) -> anyhow::Error {
    let columns: Vec<String> =
        row.columns_ref().iter().map(|c| format!("{} {:?}", c.name_str(), c.column_type())).collect();
    anyhow::anyhow!("the scan returned a row of unexpected types ({})", columns.join(", "))
}

/// The fingerprint bits the scan keeps: all 64, unless the environment variable
/// `SEQFIX_SCAN_FINGERPRINT_BITS` asks for fewer. That is a test knob, not an option: with
/// one bit nearly every row collides with many others, which must change nothing in the
/// result (the tests check it), only the time.
pub fn fingerprint_mask() -> u64 {
    match std::env::var("SEQFIX_SCAN_FINGERPRINT_BITS").ok().and_then(|v| v.parse::<u32>().ok()) {
        Some(bits) if bits < 64 => (1u64 << bits) - 1,
        _ => u64::MAX,
    }
}

/// Runs the pass over `info`'s table. `keys_only` reads only the key columns of the
/// candidates (right when the unique index exists: then no exact copies can exist and no
/// survivor is chosen). `on_rows` is told the rows read so far (for progress), `on_group`
/// gets each partition of more than one row, in key order.
///
/// It all runs on a thread of lower CPU priority (`priority::lowered`): it holds no row
/// locks, and on the database host its sorting bursts otherwise delay the application's
/// own statements (docs/benchmarks.md).
pub fn scan(
    db: &mut Db,
    info: &TableInfo,
    keys_only: bool,
    mut on_rows: impl FnMut(u64) + Send,
    mut on_group: impl FnMut(NearGroup) -> Result<()> + Send,
) -> Result<ScanTotals> {
    crate::priority::lowered(|| scan_here(db, info, keys_only, &mut on_rows, &mut on_group))
}

/// `scan`, on the calling thread.
fn scan_here(
    db: &mut Db,
    info: &TableInfo,
    keys_only: bool,
    on_rows: &mut dyn FnMut(u64),
    on_group: &mut dyn FnMut(NearGroup) -> Result<()>,
) -> Result<ScanTotals> {
    let started = Instant::now();
    let table = Ident::new("table", &info.name)?;
    let collations = weights::Collations::of(db, info)?;
    let created = created_us(info, None)?;
    let mut stats = ScanStats { snapshot: NO_SNAPSHOT, ..ScanStats::default() };
    // The fingerprints and the sort's runs hold ids and phones: a private directory of
    // private files (`spill`), removed on return.
    let spill = crate::spill::dir("the scan")?;
    let mut prints = candidates::Fingerprints::new(spill.path(), info.estimated_rows)?;
    let counts =
        walk::walk(db, &table, keys_only, &created, &collations, fingerprint_mask(), &mut prints, &mut stats, on_rows)?;
    stats.spilled(spill.path());
    let candidates = prints.finish()?;
    log::debug!(
        "scan of {table}: {} rows read in {} chunks in {:.2} s, {} candidates",
        stats.rows_read,
        stats.chunks,
        started.elapsed().as_secs_f64(),
        candidates.len()
    );
    let types = confirm::ValueTypes::of(info)?;
    confirm::confirm(db, types, &collations, candidates, spill.path(), &mut stats, on_group)
        .with_context(|| format!("confirming the candidate groups of {}.{}", db.database, table))?;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(ScanTotals { sequence_messages: counts.sequence_messages, empty_steps: counts.empty_steps, stats })
}

/// `created_at` of the table `alias` names (none: unqualified) as whole microseconds since
/// the Unix epoch, a BIGINT whatever the column's fractional precision, so that copies are
/// ordered at full precision and the client always receives an integer (a `TIMESTAMP(6)`'s
/// `UNIX_TIMESTAMP` is a DECIMAL). A TIMESTAMP goes through `UNIX_TIMESTAMP`, which returns
/// its stored UTC value whatever the session time zone (a TIMESTAMP compared or converted
/// in a zone with daylight saving time can go back an hour); a DATETIME, which has no zone,
/// by its distance from 1970-01-01 as written (also before 1970, where `UNIX_TIMESTAMP`
/// gives 0 or NULL). The batches compare copies with the same expression.
pub fn created_us(info: &TableInfo, alias: Option<&str>) -> Result<Fragment> {
    let col = info.column("created_at").with_context(|| format!("table {} has no column created_at", info.name))?;
    let template = if col.data_type.eq_ignore_ascii_case("timestamp") {
        crate::sql::CREATED_US_TIMESTAMP
    } else {
        crate::sql::CREATED_US_DATETIME
    };
    let column = Ident::new("column", "created_at")?;
    let qualified = match alias {
        Some(a) => Fragment::qualified_columns(a, std::slice::from_ref(&column)),
        None => Fragment::columns(std::slice::from_ref(&column)),
    };
    Ok(Fragment::sql_with(template, &[("created_at", &qualified)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(id: &str, phone: &str, ts: Option<i64>) -> Copy {
        Copy { id: id.into(), recipient_phone: phone.into(), sequence_id: None, status: None, created_us: ts }
    }

    #[test]
    fn survivor_is_oldest_then_smallest_id_null_last() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("c", "60", None)),
            (1, "s".into(), "d".into(), copy("b", "60", Some(10))),
            (1, "s".into(), "d".into(), copy("a", "60", Some(10))),
            (1, "s".into(), "d".into(), copy("0", "60", Some(11))),
        ];
        let g = split_partition(rows);
        assert_eq!(g.groups.len(), 1);
        let ids: Vec<&str> = g.groups[0].copies.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "0", "c"]);
        assert_eq!(g.groups[0].survivor().id, "a");
    }

    #[test]
    fn all_null_timestamps_fall_back_to_id() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("f", "60", None)),
            (1, "s".into(), "d".into(), copy("e", "60", None)),
        ];
        assert_eq!(split_partition(rows).groups[0].survivor().id, "e");
    }

    #[test]
    fn splits_near_duplicates_by_rank() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("a", "60123", Some(1))),
            (2, "s".into(), "d".into(), copy("b", "+60 123", Some(1))),
            (1, "s".into(), "d".into(), copy("c", "60123 ", Some(2))),
        ];
        let g = split_partition(rows);
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].copies.len(), 2);
        assert!(!g.groups[1].is_duplicate());
    }
}
