//! The scan's first pass: one read of the table in primary-key order, in chunks
//! (`sql/audit/chunk.sql`), as pt-archiver and gh-ost walk a table. Each chunk is one short
//! statement (`WHERE id > last ORDER BY id LIMIT n`: a range of the clustered index, no
//! sort, no temporary table), sized so that it takes about `ChunkSize::TARGET`; each row
//! comes back with a kind, a 64-bit fingerprint of its partition key, its key values and
//! details, and the rows that may have copies go to `candidates::Fingerprints`. This is the
//! scan's only read of the table.
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::Value;

use super::candidates::Fingerprints;
use super::weights::Collations;
use super::ScanStats;
use crate::db::Db;
use crate::ident::Ident;
use crate::sql::Fragment;

/// How many rows the next chunk asks for: starts small, then follows the time the chunks
/// take towards `TARGET`, at most doubling or halving at a time, within `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSize(u64);

impl ChunkSize {
    pub const FIRST: u64 = 2_000;
    pub const MIN: u64 = 200;
    pub const MAX: u64 = 100_000;
    /// Long enough that a chunk's round trip is a small part of it, short enough that no
    /// statement holds a read view for long (the bound is 2 s a statement).
    pub const TARGET: Duration = Duration::from_millis(250);

    pub fn new() -> ChunkSize {
        ChunkSize(Self::FIRST)
    }

    pub fn rows(&self) -> u64 {
        self.0
    }

    /// The size after a chunk of `self.rows()` rows took `took`. Pure.
    pub fn next(self, took: Duration) -> ChunkSize {
        let factor = (Self::TARGET.as_secs_f64() / took.as_secs_f64().max(1e-6)).clamp(0.5, 2.0);
        ChunkSize(((self.0 as f64 * factor) as u64).clamp(Self::MIN, Self::MAX))
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        ChunkSize::new()
    }
}

/// The two forms of the chunk statement: the first chunk, and every later one (after an
/// id). `keys_only` leaves out the details (with the unique index in place no survivor is
/// chosen); `created` is `super::created_us` of the table.
pub fn statements(table: &Ident, keys_only: bool, created: &Fragment) -> [String; 2] {
    use crate::sql::{SCAN_DETAILS, SCAN_DETAILS_KEYS_ONLY, SCAN_NEAR_PHONE};
    let near = Fragment::sql_with(SCAN_NEAR_PHONE, &[("phone", &Fragment::sql("recipient_phone"))]);
    let details = if keys_only { SCAN_DETAILS_KEYS_ONLY } else { SCAN_DETAILS };
    let details = Fragment::sql_with(details, &[("created_us", created)]);
    let render = |after: &'static str| {
        crate::sql::render_parts(
            crate::sql::SCAN_CHUNK,
            &[("table", table)],
            &[("near", &near), ("details", &details), ("after", &Fragment::sql(after))],
        )
    };
    [render(""), render("WHERE id > ?")]
}

/// The chunk statement's parameters, in the order of its `?`: the near weight's, the
/// step's and the device's trailing space weights, the last id of the previous chunk (none
/// for the first), the chunk's size. Pure.
pub fn params(c: &Collations, after: Option<&str>, rows: u64) -> Vec<Value> {
    let mut p: Vec<Value> = c.near.params(c.phone.trailing()).into_iter().map(Value::Bytes).collect();
    p.push(Value::Bytes(c.step.trailing().to_vec()));
    p.push(Value::Bytes(c.device.trailing().to_vec()));
    if let Some(id) = after {
        p.push(Value::Bytes(id.as_bytes().to_vec()));
    }
    p.push(Value::UInt(rows));
    p
}

/// A row's kind (chunk.sql): only `MAY_HAVE_COPIES` rows are fingerprinted.
const NULL_STEP: u8 = 0;
const EMPTY_STEP: u8 = 1;
const MAY_HAVE_COPIES: u8 = 3;

/// The fingerprint of a row from its two hashes, with only the `mask` bits kept (all of
/// them but in tests). Pure.
pub fn fingerprint(near_hash: u64, key_hash: u64, mask: u64) -> u64 {
    ((near_hash << 32) | (key_hash & 0xFFFF_FFFF)) & mask
}

/// What the walk counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Rows whose step is neither NULL nor empty.
    pub sequence_messages: u64,
    /// Rows whose step is the empty string under the column's collation.
    pub empty_steps: u64,
}

/// Walks `table`, recording the rows that may have copies in `out`. `on_rows` is told the
/// rows read so far after each chunk.
#[allow(clippy::too_many_arguments)]
pub fn walk(
    db: &mut Db,
    table: &Ident,
    keys_only: bool,
    created: &Fragment,
    collations: &Collations,
    mask: u64,
    out: &mut Fingerprints,
    stats: &mut ScanStats,
    on_rows: &mut dyn FnMut(u64),
) -> Result<Counts> {
    let [first, later] = statements(table, keys_only, created);
    let mut counts = Counts::default();
    let mut size = ChunkSize::new();
    let mut last: Option<String> = None;
    loop {
        let started = Instant::now();
        let query = if last.is_some() { &later } else { &first };
        let result = db
            .conn
            .exec_iter(query, params(collations, last.as_deref(), size.rows()))
            .with_context(|| format!("reading {}.{} in primary-key order (the scan's walk)", db.database, table))?;
        let mut n = 0u64;
        let mut last_id = None;
        for row in result {
            let row = row
                .with_context(|| format!("reading {}.{} in primary-key order (the scan's walk)", db.database, table))?;
            #[allow(clippy::type_complexity)]
            let (id, kind, near_hash, key_hash, step, device, phone, sequence_id, status, created_us): (
                String,
                u8,
                Option<u64>,
                Option<u64>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<i64>,
            ) = mysql::from_row_opt(row).map_err(|e| super::unexpected_shape(&e.0))?;
            n += 1;
            match kind {
                NULL_STEP => {}
                EMPTY_STEP => counts.empty_steps += 1,
                kind => {
                    counts.sequence_messages += 1;
                    if kind == MAY_HAVE_COPIES {
                        let (Some(near), Some(key), Some(step), Some(device), Some(phone)) =
                            (near_hash, key_hash, step, device, phone)
                        else {
                            anyhow::bail!("the scan's walk returned a sequence message without its key or fingerprint");
                        };
                        let copy = super::Copy { id, recipient_phone: phone, sequence_id, status, created_us };
                        out.push(&step, &device, &copy, fingerprint(near, key, mask))?;
                        last_id = Some(copy.id);
                        continue;
                    }
                }
            }
            last_id = Some(id);
        }
        let took = started.elapsed();
        stats.statement(took);
        stats.chunks += 1;
        stats.rows_read += n;
        on_rows(stats.rows_read);
        if n < size.rows() {
            return Ok(counts);
        }
        last = last_id;
        size = size.next(took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::weights::{Near, Padding};

    #[test]
    fn chunks_follow_the_time_they_take_within_bounds() {
        let s = ChunkSize::new();
        assert_eq!(s.rows(), 2_000);
        assert_eq!(s.next(Duration::from_millis(250)).rows(), 2_000);
        assert_eq!(s.next(Duration::from_millis(1)).rows(), 4_000, "at most doubles");
        assert_eq!(s.next(Duration::from_secs(10)).rows(), 1_000, "at most halves");
        assert_eq!(s.next(Duration::from_millis(500)).rows(), 1_000);
        let mut big = s;
        for _ in 0..20 {
            big = big.next(Duration::ZERO);
        }
        assert_eq!(big.rows(), ChunkSize::MAX);
        let mut small = s;
        for _ in 0..20 {
            small = small.next(Duration::from_secs(60));
        }
        assert_eq!(small.rows(), ChunkSize::MIN);
    }

    #[test]
    fn the_fingerprint_is_both_hashes_under_the_mask() {
        assert_eq!(fingerprint(0xAABB_CCDD, 0x1122_3344, u64::MAX), 0xAABB_CCDD_1122_3344);
        assert_eq!(fingerprint(0xAABB_CCDD, 0x1122_3344, 1), 0);
        assert_eq!(fingerprint(0, 0xFFFF_FFFF, 0xF), 0xF);
    }

    #[test]
    fn the_chunk_statements_walk_by_primary_key_with_a_parameter_for_each_mark() {
        let t = Ident::new("table", "m").unwrap();
        let created = Fragment::sql("created_at");
        let [first, later] = statements(&t, false, &created);
        let c = Collations {
            step: Padding { space_weight: b"s".to_vec(), pad_space: true },
            device: Padding { space_weight: b"d".to_vec(), pad_space: false },
            phone: Padding { space_weight: b"p".to_vec(), pad_space: true },
            near: Near::default(),
        };
        let code = |q: &str| -> String {
            q.lines()
                .filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (first, later) = (code(&first), code(&later));
        for (q, after) in [(&first, None), (&later, Some("x"))] {
            assert!(!q.contains('{'), "unfilled placeholder: {q}");
            assert!(q.contains("FROM `m`") && q.ends_with("ORDER BY id\nLIMIT ?"), "{q}");
            assert_eq!(q.matches("WHERE id > ?").count(), after.is_some() as usize, "{q}");
            let marks = q.matches('?').count();
            let p = params(&c, after, 10);
            assert_eq!(marks, p.len(), "{q}");
            let n = p.len();
            assert_eq!(p[n - 1], Value::UInt(10));
            // The step's space weight is trimmed (PAD SPACE), the device's is not (NO PAD).
            let tail = if after.is_some() { 4 } else { 3 };
            assert_eq!(p[n - tail], Value::Bytes(b"s".to_vec()));
            assert_eq!(p[n - tail + 1], Value::Bytes(vec![]));
        }
        assert_eq!(params(&c, Some("x"), 10)[first.matches('?').count() - 1], Value::Bytes(b"x".to_vec()));
    }
}
