//! Which rows of the walk are candidates: those whose fingerprint occurs more than once.
//! Held on disk, not in memory, so that memory stays flat whatever the table's size:
//! - an id log, one record per row that may have copies, in walk (primary-key) order; a
//!   canonical UUID takes 17 bytes, any other id its length plus 3;
//! - (fingerprint, sequence number) pairs, 16 bytes each, spread over 2^bits bucket files by
//!   the fingerprint's top bits, so that each bucket (about `BUCKET_PAIRS` pairs) is sorted
//!   in memory on its own; a bucket that came out larger than planned (the row estimate was
//!   low) is split again by the next bits before it is sorted;
//! - a bitmap of the sequence numbers whose fingerprint repeats.
//!
//! Then `Candidates` reads the id log once and hands out the marked ids in batches: the
//! confirming reads go by primary key in key order within each of the walk's chunks, and
//! the chunks from the last to the first, so that they begin with the pages the walk read
//! last, which are the likeliest still to be in the server's buffer pool.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The pairs a bucket is planned to hold (4 MB in memory when sorted).
pub const BUCKET_PAIRS: u64 = 250_000;
/// A bucket larger than this many pairs is split again before it is sorted.
const SPLIT_PAIRS: u64 = 4 * BUCKET_PAIRS;
/// Bits a re-split takes (16 sub-buckets), and how often a bucket may be split again.
const SPLIT_BITS: u32 = 4;
const MAX_SPLITS: u32 = 3;
/// The write buffer of each bucket file: small, since there are up to 1024 of them.
const BUCKET_BUFFER: usize = 8 * 1024;

/// How many top bits of the fingerprint pick the bucket, for `estimated_rows` rows: about
/// `BUCKET_PAIRS` a bucket, at most 1024 buckets (open files). Pure.
pub fn bucket_bits(estimated_rows: u64) -> u32 {
    let buckets = estimated_rows.div_ceil(BUCKET_PAIRS).max(1);
    (64 - (buckets - 1).leading_zeros()).min(10)
}

/// The walk's rows that may have copies, as they are written.
pub struct Fingerprints {
    dir: PathBuf,
    ids: BufWriter<File>,
    buckets: Vec<BufWriter<File>>,
    bits: u32,
    rows: u64,
    /// Bytes written to the id log.
    logged: u64,
    /// Where each of the walk's chunks begins: (offset in the id log, first row).
    segments: Vec<(u64, u64)>,
}

impl Fingerprints {
    /// Files under `dir` (a private directory, `spill::dir`), sized for `estimated_rows`.
    pub fn new(dir: &Path, estimated_rows: u64) -> Result<Fingerprints> {
        let bits = bucket_bits(estimated_rows);
        let create = |name: String, capacity: usize| -> Result<BufWriter<File>> {
            let path = dir.join(name);
            let f = crate::spill::private_file(&path).with_context(|| spill_error(&path))?;
            Ok(BufWriter::with_capacity(capacity, f))
        };
        let ids = create("ids".into(), 64 * 1024)?;
        let buckets = (0..1u32 << bits).map(|b| create(format!("bucket-{b}"), BUCKET_BUFFER)).collect::<Result<_>>()?;
        Ok(Fingerprints { dir: dir.to_path_buf(), ids, buckets, bits, rows: 0, logged: 0, segments: Vec::new() })
    }

    /// Marks the start of a chunk of the walk: the rows pushed from now on are read back
    /// before those pushed so far.
    pub fn start_chunk(&mut self) {
        if self.segments.last().is_none_or(|&(_, first)| first < self.rows) {
            self.segments.push((self.logged, self.rows));
        }
    }

    /// Records a row that may have copies, in walk order.
    pub fn push(&mut self, id: &str, fingerprint: u64) -> Result<()> {
        let mut record = Vec::with_capacity(40);
        encode_id(&mut record, id)?;
        self.ids.write_all(&record).with_context(|| spill_error(&self.dir))?;
        self.logged += record.len() as u64;
        let bucket = if self.bits == 0 { 0 } else { (fingerprint >> (64 - self.bits)) as usize };
        let mut pair = [0u8; 16];
        pair[..8].copy_from_slice(&fingerprint.to_le_bytes());
        pair[8..].copy_from_slice(&self.rows.to_le_bytes());
        self.buckets[bucket].write_all(&pair).with_context(|| spill_error(&self.dir))?;
        self.rows += 1;
        Ok(())
    }

    /// Rows recorded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Sorts each bucket and marks the rows whose fingerprint repeats.
    pub fn finish(self) -> Result<Candidates> {
        let Fingerprints { dir, ids, buckets, bits, rows, segments: starts, .. } = self;
        ids.into_inner().map_err(|e| e.into_error()).with_context(|| spill_error(&dir))?;
        for b in buckets {
            b.into_inner().map_err(|e| e.into_error()).with_context(|| spill_error(&dir))?;
        }
        let mut marks = Bitmap::new(rows);
        for b in 0..1u32 << bits {
            mark_bucket(&dir.join(format!("bucket-{b}")), bits, 0, &mut marks)?;
        }
        let candidates = marks.count();
        let path = dir.join("ids");
        let ids = BufReader::with_capacity(64 * 1024, File::open(&path).with_context(|| spill_error(&path))?);
        Ok(Candidates { ids, marks, segments: segments(&starts, rows), next: 0, end: 0, candidates, path })
    }
}

/// Sorts the pairs of one bucket file (`used` top bits already shared by all of them) and
/// marks the sequence numbers of repeated fingerprints; splits the file first when it is too
/// large. The file is removed.
fn mark_bucket(path: &Path, used: u32, splits: u32, marks: &mut Bitmap) -> Result<()> {
    let len = std::fs::metadata(path).with_context(|| spill_error(path))?.len();
    let pairs = len / 16;
    if pairs > SPLIT_PAIRS && splits < MAX_SPLITS && used + SPLIT_BITS <= 64 {
        let shift = 64 - used - SPLIT_BITS;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let subs: Vec<PathBuf> = (0..1u32 << SPLIT_BITS).map(|s| path.with_file_name(format!("{name}.{s}"))).collect();
        {
            let mut writers = subs
                .iter()
                .map(|p| Ok(BufWriter::with_capacity(BUCKET_BUFFER, crate::spill::private_file(p)?)))
                .collect::<std::io::Result<Vec<_>>>()
                .with_context(|| spill_error(path))?;
            let mut r = BufReader::with_capacity(64 * 1024, File::open(path).with_context(|| spill_error(path))?);
            let mut pair = [0u8; 16];
            for _ in 0..pairs {
                r.read_exact(&mut pair).with_context(|| spill_error(path))?;
                let fp = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
                let sub = ((fp >> shift) & ((1 << SPLIT_BITS) - 1)) as usize;
                writers[sub].write_all(&pair).with_context(|| spill_error(path))?;
            }
            for w in writers {
                w.into_inner().map_err(|e| e.into_error()).with_context(|| spill_error(path))?;
            }
        }
        std::fs::remove_file(path).with_context(|| spill_error(path))?;
        for sub in &subs {
            mark_bucket(sub, used + SPLIT_BITS, splits + 1, marks)?;
        }
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).with_context(|| spill_error(path))?;
    std::fs::remove_file(path).with_context(|| spill_error(path))?;
    let mut pairs: Vec<(u64, u64)> = bytes
        .chunks_exact(16)
        .map(|p| {
            (u64::from_le_bytes(p[..8].try_into().expect("8 bytes")), u64::from_le_bytes(p[8..].try_into().expect("8")))
        })
        .collect();
    drop(bytes);
    mark_repeated(&mut pairs, marks);
    Ok(())
}

/// The chunks of the walk as (offset, first row, end row), in walk order; the whole log as
/// one chunk when none was marked. Pure.
fn segments(starts: &[(u64, u64)], rows: u64) -> Vec<(u64, u64, u64)> {
    let mut starts = starts.to_vec();
    if starts.first().is_none_or(|&(_, first)| first > 0) {
        starts.insert(0, (0, 0));
    }
    let ends = starts.iter().skip(1).map(|&(_, first)| first).chain([rows]);
    let mut out: Vec<(u64, u64, u64)> = starts
        .iter()
        .zip(ends)
        .filter(|(s, end)| s.1 < *end)
        .map(|(&(offset, first), end)| (offset, first, end))
        .collect();
    out.dedup_by_key(|s| s.1);
    out
}

/// Marks the sequence numbers of the fingerprints that occur more than once. Pure.
fn mark_repeated(pairs: &mut [(u64, u64)], marks: &mut Bitmap) {
    pairs.sort_unstable();
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i + 1;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        if j - i > 1 {
            for &(_, seq) in &pairs[i..j] {
                marks.set(seq);
            }
        }
        i = j;
    }
}

/// The candidate rows' ids, in walk order.
pub struct Candidates {
    ids: BufReader<File>,
    marks: Bitmap,
    /// The chunks not yet read, in walk order: the last is read first.
    segments: Vec<(u64, u64, u64)>,
    /// The next row of the current chunk, and its end.
    next: u64,
    end: u64,
    candidates: u64,
    path: PathBuf,
}

impl Candidates {
    /// How many rows are candidates.
    pub fn len(&self) -> u64 {
        self.candidates
    }

    pub fn is_empty(&self) -> bool {
        self.candidates == 0
    }

    /// The next at most `n` candidate ids (empty when done).
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(n.min(self.candidates as usize));
        while out.len() < n {
            if self.next == self.end {
                let Some((offset, first, end)) = self.segments.pop() else {
                    break;
                };
                self.ids.seek(SeekFrom::Start(offset)).with_context(|| spill_error(&self.path))?;
                (self.next, self.end) = (first, end);
                continue;
            }
            let id = decode_id(&mut self.ids).with_context(|| spill_error(&self.path))?;
            if self.marks.get(self.next) {
                out.push(id);
            }
            self.next += 1;
        }
        Ok(out)
    }
}

/// One bit per row.
struct Bitmap(Vec<u64>);

impl Bitmap {
    fn new(bits: u64) -> Bitmap {
        Bitmap(vec![0; bits.div_ceil(64) as usize])
    }
    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
    fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
    fn count(&self) -> u64 {
        self.0.iter().map(|w| w.count_ones() as u64).sum()
    }
}

/// An id as one record: 0 and 16 bytes for a UUID written in canonical lower case (which
/// prints back to the same text), else 1, the length (2 bytes) and the bytes. Pure.
fn encode_id(out: &mut Vec<u8>, id: &str) -> Result<()> {
    if let Ok(u) = uuid::Uuid::try_parse(id) {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        if u.hyphenated().encode_lower(&mut text).as_bytes() == id.as_bytes() {
            out.push(0);
            out.extend_from_slice(u.as_bytes());
            return Ok(());
        }
    }
    let len = u16::try_from(id.len()).context("an id longer than 65,535 bytes")?;
    out.push(1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    Ok(())
}

fn decode_id(r: &mut impl Read) -> std::io::Result<String> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    if tag[0] == 0 {
        let mut b = [0u8; 16];
        r.read_exact(&mut b)?;
        return Ok(uuid::Uuid::from_bytes(b).hyphenated().to_string());
    }
    let mut len = [0u8; 2];
    r.read_exact(&mut len)?;
    let mut b = vec![0u8; u16::from_le_bytes(len) as usize];
    r.read_exact(&mut b)?;
    String::from_utf8(b).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn spill_error(path: &Path) -> String {
    format!(
        "cannot keep the scan's fingerprints in {} (set TMPDIR to a writable directory with free space)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(c: &mut Candidates, batch: usize) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let b = c.next_batch(batch).unwrap();
            if b.is_empty() {
                return out;
            }
            assert!(b.len() <= batch);
            out.extend(b);
        }
    }

    #[test]
    fn bucket_count_follows_the_estimate_within_bounds() {
        assert_eq!(bucket_bits(0), 0);
        assert_eq!(bucket_bits(BUCKET_PAIRS), 0);
        assert_eq!(bucket_bits(BUCKET_PAIRS + 1), 1);
        assert_eq!(bucket_bits(10_000_000), 6);
        assert_eq!(bucket_bits(u64::MAX / 2), 10);
    }

    #[test]
    fn ids_survive_the_log_in_any_shape() {
        for id in ["3f1c2a9e-0b7d-4c1e-9a2b-7d5e4f3a2b1c", "3F1C2A9E-0B7D-4C1E-9A2B-7D5E4F3A2B1C", "42", "", "é ü"] {
            let mut b = Vec::new();
            encode_id(&mut b, id).unwrap();
            assert_eq!(decode_id(&mut b.as_slice()).unwrap(), id);
        }
        let mut b = Vec::new();
        encode_id(&mut b, "3f1c2a9e-0b7d-4c1e-9a2b-7d5e4f3a2b1c").unwrap();
        assert_eq!(b.len(), 17, "a canonical UUID is stored in 17 bytes");
    }

    #[test]
    fn chunks_are_read_back_last_first_each_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 10).unwrap();
        for chunk in [&["a", "b"][..], &[], &["c", "d", "e"], &["f"]] {
            f.start_chunk();
            for id in chunk {
                f.push(id, 5).unwrap();
            }
        }
        f.start_chunk();
        let mut c = f.finish().unwrap();
        assert_eq!(all(&mut c, 4), ["f", "c", "d", "e", "a", "b"]);
        assert_eq!(segments(&[(0, 0), (9, 2), (9, 2), (27, 5)], 6), [(0, 0, 2), (9, 2, 5), (27, 5, 6)]);
        assert_eq!(segments(&[(30, 3)], 4), [(0, 0, 3), (30, 3, 4)], "rows before the first mark");
        assert_eq!(segments(&[], 0), []);
    }

    #[test]
    fn only_rows_of_repeated_fingerprints_are_candidates_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 10).unwrap();
        for (id, fp) in [("a", 7), ("b", 9), ("c", 7), ("d", 1), ("e", 9), ("f", 7), ("g", u64::MAX)] {
            f.push(id, fp).unwrap();
        }
        let mut c = f.finish().unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(all(&mut c, 2), ["a", "b", "c", "e", "f"]);
    }

    /// Far more rows than the estimate: every bucket is re-split; the candidates are those
    /// a map of fingerprints finds, in the order they were pushed.
    #[test]
    fn a_low_estimate_splits_buckets_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 1).unwrap();
        let n = 1_200_000u64;
        // Fingerprints spread over all 64 bits; every 7th row shares one with the row before it.
        let fp = |i: u64| {
            let k = if i % 7 == 0 && i > 0 { i - 1 } else { i };
            k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k << 17)
        };
        let mut counts = std::collections::HashMap::new();
        for i in 0..n {
            f.push(&format!("id{i}"), fp(i)).unwrap();
            *counts.entry(fp(i)).or_insert(0u32) += 1;
        }
        let want: Vec<String> = (0..n).filter(|&i| counts[&fp(i)] > 1).map(|i| format!("id{i}")).collect();
        let mut c = f.finish().unwrap();
        let leftover: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftover, ["ids"], "the bucket files are removed once sorted");
        assert_eq!(c.len(), want.len() as u64);
        assert_eq!(all(&mut c, 1000), want);
    }

    #[test]
    fn one_fingerprint_for_every_row_makes_every_row_a_candidate() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 100).unwrap();
        for i in 0..50_000 {
            f.push(&i.to_string(), 0).unwrap();
        }
        let mut c = f.finish().unwrap();
        assert_eq!(all(&mut c, 1000).len(), 50_000);
    }
}
