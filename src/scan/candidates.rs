//! Which rows of the walk are candidates: those whose fingerprint occurs more than once.
//! Held on disk, not in memory, so that memory stays flat whatever the table's size:
//! - a row log, one record per row that may have copies, in walk (primary-key) order: the
//!   key values and details the walk read (`Row`), each text in 17 bytes when it is a
//!   canonical UUID, its length plus 3 otherwise: about 110 bytes a row here;
//! - (fingerprint, sequence number) pairs, 16 bytes each, spread over 2^bits bucket files by
//!   the fingerprint's top bits, so that each bucket (about `BUCKET_PAIRS` pairs) is sorted
//!   in memory on its own; a bucket that came out larger than planned (the row estimate was
//!   low) is split again by the next bits before it is sorted;
//! - a bitmap of the sequence numbers whose fingerprint repeats.
//!
//! Then `Candidates` reads the row log once, in order, and hands out the marked rows in
//! batches: the table itself is not read again.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Copy;

/// A row of the walk that may have copies: its step, device and the copy (the phone, the
/// id and the details).
pub type Row = (String, String, Copy);

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
    rows_log: BufWriter<File>,
    buckets: Vec<BufWriter<File>>,
    bits: u32,
    rows: u64,
    record: Vec<u8>,
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
        let rows_log = create("rows".into(), 64 * 1024)?;
        let buckets = (0..1u32 << bits).map(|b| create(format!("bucket-{b}"), BUCKET_BUFFER)).collect::<Result<_>>()?;
        Ok(Fingerprints { dir: dir.to_path_buf(), rows_log, buckets, bits, rows: 0, record: Vec::with_capacity(256) })
    }

    /// Records a row that may have copies, in walk order.
    pub fn push(&mut self, step: &str, device: &str, copy: &Copy, fingerprint: u64) -> Result<()> {
        self.record.clear();
        encode_row(&mut self.record, step, device, copy)?;
        self.rows_log.write_all(&self.record).with_context(|| spill_error(&self.dir))?;
        let bucket = if self.bits == 0 { 0 } else { (fingerprint >> (64 - self.bits)) as usize };
        let mut pair = [0u8; 16];
        pair[..8].copy_from_slice(&fingerprint.to_le_bytes());
        pair[8..].copy_from_slice(&self.rows.to_le_bytes());
        self.buckets[bucket].write_all(&pair).with_context(|| spill_error(&self.dir))?;
        self.rows += 1;
        Ok(())
    }

    /// Sorts each bucket and marks the rows whose fingerprint repeats.
    pub fn finish(self) -> Result<Candidates> {
        let Fingerprints { dir, rows_log, buckets, bits, rows, .. } = self;
        rows_log.into_inner().map_err(|e| e.into_error()).with_context(|| spill_error(&dir))?;
        for b in buckets {
            b.into_inner().map_err(|e| e.into_error()).with_context(|| spill_error(&dir))?;
        }
        let mut marks = Bitmap::new(rows);
        for b in 0..1u32 << bits {
            mark_bucket(&dir.join(format!("bucket-{b}")), bits, 0, &mut marks)?;
        }
        let candidates = marks.count();
        let path = dir.join("rows");
        let log = BufReader::with_capacity(64 * 1024, File::open(&path).with_context(|| spill_error(&path))?);
        Ok(Candidates { log, marks, rows, next: 0, candidates, path })
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

/// The candidate rows, in walk order.
pub struct Candidates {
    log: BufReader<File>,
    marks: Bitmap,
    rows: u64,
    next: u64,
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

    /// The next at most `n` candidate rows (empty when done).
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<Row>> {
        let mut out = Vec::with_capacity(n.min(self.candidates as usize));
        while out.len() < n && self.next < self.rows {
            let marked = self.marks.get(self.next);
            self.next += 1;
            let row = decode_row(&mut self.log, marked).with_context(|| spill_error(&self.path))?;
            out.extend(row);
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

/// A row as one record of the log (and of the sort's entries, `confirm::Entry`): step,
/// device, id, phone, sequence id, status (each a text, `encode_text`) and created_us (0,
/// or 1 and 8 bytes). Pure; `decode_row` reverses it.
pub(super) fn encode_row(out: &mut Vec<u8>, step: &str, device: &str, c: &Copy) -> Result<()> {
    for text in [Some(step), Some(device), Some(c.id.as_str()), Some(c.recipient_phone.as_str())] {
        encode_text(out, text)?;
    }
    encode_text(out, c.sequence_id.as_deref())?;
    encode_text(out, c.status.as_deref())?;
    match c.created_us {
        None => out.push(0),
        Some(us) => {
            out.push(1);
            out.extend_from_slice(&us.to_le_bytes());
        }
    }
    Ok(())
}

/// Reads the next record; `keep` false skips it without building strings.
pub(super) fn decode_row(r: &mut impl Read, keep: bool) -> std::io::Result<Option<Row>> {
    let mut texts: [Option<String>; 6] = Default::default();
    for t in &mut texts {
        *t = decode_text(r, keep)?;
    }
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    let created_us = if tag[0] == 0 {
        None
    } else {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)?;
        Some(i64::from_le_bytes(b))
    };
    if !keep {
        return Ok(None);
    }
    let [step, device, id, phone, sequence_id, status] = texts;
    let lost = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a row of the scan's log lost a field");
    Ok(Some((
        step.ok_or_else(lost)?,
        device.ok_or_else(lost)?,
        Copy { id: id.ok_or_else(lost)?, recipient_phone: phone.ok_or_else(lost)?, sequence_id, status, created_us },
    )))
}

/// A text of a record: 0 for none; 2 and 16 bytes for a UUID written in canonical lower
/// case (which prints back to the same text); else 1, the length (2 bytes) and the bytes.
fn encode_text(out: &mut Vec<u8>, text: Option<&str>) -> Result<()> {
    let Some(text) = text else {
        out.push(0);
        return Ok(());
    };
    if text.len() == uuid::fmt::Hyphenated::LENGTH {
        if let Ok(u) = uuid::Uuid::try_parse(text) {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            if u.hyphenated().encode_lower(&mut buf).as_bytes() == text.as_bytes() {
                out.push(2);
                out.extend_from_slice(u.as_bytes());
                return Ok(());
            }
        }
    }
    let len = u16::try_from(text.len()).context("a key or detail value longer than 65,535 bytes")?;
    out.push(1);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn decode_text(r: &mut impl Read, keep: bool) -> std::io::Result<Option<String>> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    match tag[0] {
        0 => Ok(None),
        2 => {
            let mut b = [0u8; 16];
            r.read_exact(&mut b)?;
            Ok(keep.then(|| uuid::Uuid::from_bytes(b).hyphenated().to_string()))
        }
        _ => {
            let mut len = [0u8; 2];
            r.read_exact(&mut len)?;
            let mut b = vec![0u8; u16::from_le_bytes(len) as usize];
            r.read_exact(&mut b)?;
            if !keep {
                return Ok(None);
            }
            String::from_utf8(b).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }
    }
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

    fn copy(id: &str) -> Copy {
        Copy {
            id: id.into(),
            recipient_phone: "+60 1".into(),
            sequence_id: None,
            status: Some("sent".into()),
            created_us: Some(-5),
        }
    }

    fn push(f: &mut Fingerprints, id: &str, fp: u64) {
        f.push("s", "d", &copy(id), fp).unwrap();
    }

    fn all(c: &mut Candidates, batch: usize) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let b = c.next_batch(batch).unwrap();
            if b.is_empty() {
                return out;
            }
            assert!(b.len() <= batch);
            out.extend(b.into_iter().map(|(_, _, c)| c.id));
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
    fn rows_survive_the_log_in_any_shape() {
        let uuid = "3f1c2a9e-0b7d-4c1e-9a2b-7d5e4f3a2b1c";
        let rows: Vec<Row> = vec![
            (uuid.into(), "3F1C2A9E-0B7D-4C1E-9A2B-7D5E4F3A2B1C".into(), copy("42")),
            (
                "".into(),
                "é ü".into(),
                Copy { sequence_id: Some(uuid.into()), status: None, created_us: None, ..copy(uuid) },
            ),
        ];
        let mut b = Vec::new();
        for (s, d, c) in &rows {
            encode_row(&mut b, s, d, c).unwrap();
        }
        let mut r = b.as_slice();
        assert_eq!(decode_row(&mut r, true).unwrap().as_ref(), Some(&rows[0]));
        assert_eq!(decode_row(&mut r, false).unwrap(), None, "skipped");
        assert!(r.is_empty());
        let mut one = Vec::new();
        encode_text(&mut one, Some(uuid)).unwrap();
        assert_eq!(one.len(), 17, "a canonical UUID is stored in 17 bytes");
        let mut r = b.as_slice();
        decode_row(&mut r, false).unwrap();
        assert_eq!(decode_row(&mut r, true).unwrap().as_ref(), Some(&rows[1]));
    }

    #[test]
    fn only_rows_of_repeated_fingerprints_are_candidates_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 10).unwrap();
        for (id, fp) in [("a", 7), ("b", 9), ("c", 7), ("d", 1), ("e", 9), ("f", 7), ("g", u64::MAX)] {
            push(&mut f, id, fp);
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
            push(&mut f, &format!("id{i}"), fp(i));
            *counts.entry(fp(i)).or_insert(0u32) += 1;
        }
        let want: Vec<String> = (0..n).filter(|&i| counts[&fp(i)] > 1).map(|i| format!("id{i}")).collect();
        let mut c = f.finish().unwrap();
        let leftover: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftover, ["rows"], "the bucket files are removed once sorted");
        assert_eq!(c.len(), want.len() as u64);
        assert_eq!(all(&mut c, 1000), want);
    }

    #[test]
    fn one_fingerprint_for_every_row_makes_every_row_a_candidate() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fingerprints::new(dir.path(), 100).unwrap();
        for i in 0..50_000 {
            push(&mut f, &i.to_string(), 0);
        }
        let mut c = f.finish().unwrap();
        assert_eq!(all(&mut c, 1000).len(), 50_000);
    }
}
