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
/// chosen); `created` is `super::created_us` of the table; the step's and the device's
/// trailing space weights (`Padding::trailing`) go in as constants.
pub fn statements(table: &Ident, keys_only: bool, created: &Fragment, c: &Collations) -> [String; 2] {
    use crate::sql::{SCAN_DETAILS, SCAN_DETAILS_KEYS_ONLY};
    let details = if keys_only { SCAN_DETAILS_KEYS_ONLY } else { SCAN_DETAILS };
    let details = Fragment::sql_with(details, &[("created_us", created)]);
    let (step, device) = (Fragment::hex(c.step.trailing()), Fragment::hex(c.device.trailing()));
    let render = |after: &'static str| {
        crate::sql::render_parts(
            crate::sql::SCAN_CHUNK,
            &[("table", table)],
            &[
                ("step_trailing", &step),
                ("device_trailing", &device),
                ("details", &details),
                ("after", &Fragment::sql(after)),
            ],
        )
    };
    [render(""), render("WHERE id > ?")]
}

/// The chunk statement's parameters, in the order of its `?`: the last id of the previous
/// chunk (none for the first), the chunk's size. Pure.
pub fn params(after: Option<&str>, rows: u64) -> Vec<Value> {
    let mut p = Vec::with_capacity(2);
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

/// The fingerprint of a row from its phone's near weight (`Near::weight`) and the server's
/// hash of its step and device, with only the `mask` bits kept (all of them but in tests).
/// Any fixed function of the near weight will do: rows of one partition have one near
/// weight. Pure.
pub fn fingerprint(near_weight: &[u8], key_hash: u64, mask: u64) -> u64 {
    use std::hash::Hasher;
    // SipHash with fixed keys: the same near weight hashes the same throughout a run.
    let mut h = std::hash::DefaultHasher::new();
    h.write(near_weight);
    (((h.finish() & 0xFFFF_FFFF) << 32) | (key_hash & 0xFFFF_FFFF)) & mask
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
    let [first, later] = statements(table, keys_only, created, collations);
    let mut counts = Counts::default();
    let mut size = ChunkSize::new();
    let mut last: Option<String> = None;
    loop {
        let started = Instant::now();
        let query = if last.is_some() { &later } else { &first };
        let result = db
            .conn
            .exec_iter(query, params(last.as_deref(), size.rows()))
            .with_context(|| format!("reading {}.{} in primary-key order (the scan's walk)", db.database, table))?;
        let mut n = 0u64;
        let mut last_id = None;
        for row in result {
            let row = row
                .with_context(|| format!("reading {}.{} in primary-key order (the scan's walk)", db.database, table))?;
            #[allow(clippy::type_complexity)]
            let (id, kind, phone_weight, key_hash, step, device, phone, sequence_id, status, created_us): (
                String,
                u8,
                Option<Vec<u8>>,
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
                        let (Some(phone_weight), Some(key), Some(step), Some(device), Some(phone)) =
                            (phone_weight, key_hash, step, device, phone)
                        else {
                            anyhow::bail!("the scan's walk returned a sequence message without its key or fingerprint");
                        };
                        let copy = super::Copy { id, recipient_phone: phone, sequence_id, status, created_us };
                        let near = collations.near.weight(&phone_weight, collations.phone.trailing());
                        out.push(&step, &device, &copy, fingerprint(&near, key, mask))?;
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
        let all = fingerprint(b"\x0e\x2a", 0x1122_3344, u64::MAX);
        assert_eq!(all & 0xFFFF_FFFF, 0x1122_3344, "the low half is the server's hash");
        assert_eq!(all, fingerprint(b"\x0e\x2a", 0x1122_3344, u64::MAX), "a fixed function");
        assert_ne!(all >> 32, fingerprint(b"\x0e\x2b", 0x1122_3344, u64::MAX) >> 32);
        assert_eq!(fingerprint(b"\x0e\x2a", 0x1122_3344, 1), 0);
        assert_eq!(fingerprint(b"", 0xFFFF_FFFF, 0xF), 0xF);
    }

    #[test]
    fn the_chunk_statements_walk_by_primary_key_with_a_parameter_for_each_mark() {
        let t = Ident::new("table", "m").unwrap();
        let created = Fragment::sql("created_at");
        let c = Collations {
            step: Padding { space_weight: b"\x02\x09".to_vec(), pad_space: true },
            device: Padding { space_weight: b"d".to_vec(), pad_space: false },
            phone: Padding { space_weight: b"p".to_vec(), pad_space: true },
            near: Near::default(),
        };
        let [first, later] = statements(&t, false, &created, &c);
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
            // The step's space weight is trimmed (PAD SPACE), the device's is not (NO PAD).
            assert!(q.contains("TRIM(TRAILING X'0209' FROM WEIGHT_STRING(sequence_stepid))"), "{q}");
            assert!(q.contains("TRIM(TRAILING X'' FROM WEIGHT_STRING(device_id))"), "{q}");
            let p = params(after, 10);
            assert_eq!(q.matches('?').count(), p.len(), "{q}");
            assert_eq!(p[p.len() - 1], Value::UInt(10));
        }
        assert_eq!(params(Some("x"), 10)[0], Value::Bytes(b"x".to_vec()));
    }
}
