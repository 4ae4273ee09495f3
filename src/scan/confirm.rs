//! The scan's second pass, on the candidates alone: the server weighs the key values the
//! walk read of each candidate row (`sql/audit/weigh.sql`, `WEIGH` values a statement,
//! computed from the values, not read from the table again; a step's or a device's weight
//! is asked once and remembered, as most rows share a few), the client derives the near
//! weight from the phone's (`Near::weight`, as the walk did for its fingerprints), sorts the
//! rows by those weights (an external merge sort, `extsort`: runs of `run_rows` rows sorted
//! in memory and written to the private spill directory, then merged) and groups them:
//! every (near weight, step, device) partition holding more than one row, split into exact
//! groups by the phone's weight (the unique index's equality, and nothing else). A
//! fingerprint collision only brings rows here that then stand alone.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::Value;

use super::candidates::{Candidates, Row};
use super::weights::Collations;
use super::{split_partition, Copy, NearGroup, ScanStats};
use crate::db::Db;
use crate::ident::Ident;
use crate::schema::TableInfo;
use crate::sql::Fragment;

/// Candidate rows taken from the log at a time.
pub const BATCH: usize = 1_000;
/// Values weighed per statement (one column each); a shorter list is padded with empty
/// strings, so that every statement of a column is the same prepared one.
pub const WEIGH: usize = 500;
/// Step and device weights remembered, at most (then forgotten and asked again).
const REMEMBERED: usize = 20_000;

/// The three key columns, in the order `ValueTypes` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Step = 0,
    Device = 1,
    Phone = 2,
}

/// How the weigh statement takes each key value back into its column's character set and
/// collation: converted from the UTF-8 the driver received it in, or as bytes for a binary
/// column. One per key column: step, device, phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueTypes(pub [Fragment; 3]);

impl ValueTypes {
    /// From the columns of `info`'s table.
    pub fn of(info: &TableInfo) -> Result<ValueTypes> {
        let one = |name: &str| -> Result<Fragment> {
            let col = info.column(name).with_context(|| format!("table {} has no column {name}", info.name))?;
            Ok(match (&col.charset, &col.collation) {
                (Some(charset), Some(collation)) => Fragment::converted_value(
                    &Ident::new("character set", charset)?,
                    &Ident::new("collation", collation)?,
                ),
                _ => Fragment::sql("CAST(? AS BINARY)"),
            })
        };
        Ok(ValueTypes([one("sequence_stepid")?, one("device_id")?, one("recipient_phone")?]))
    }
}

/// The weigh statement for `n` values of column `key` (`sql/audit/weigh.sql`), one `?` each.
pub fn query(types: &ValueTypes, key: Key, n: usize) -> String {
    let one = Fragment::sql_with("WEIGHT_STRING({value})", &[("value", &types.0[key as usize])]);
    crate::sql::render_parts(crate::sql::SCAN_WEIGH, &[], &[("weights", &Fragment::list(&one, n))])
}

/// Asks the server for the weights of key values, a column at a time.
pub struct Weigher {
    statements: [String; 3],
    remembered: [HashMap<String, Vec<u8>>; 2],
    /// Time spent in the statements.
    pub waited: Duration,
}

impl Weigher {
    pub fn new(types: ValueTypes) -> Weigher {
        let statements = [Key::Step, Key::Device, Key::Phone].map(|k| query(&types, k, WEIGH));
        Weigher { statements, remembered: Default::default(), waited: Duration::ZERO }
    }

    /// The weights of `values` of column `key`, in order.
    pub fn weigh(&mut self, db: &mut Db, key: Key, values: &[&str], stats: &mut ScanStats) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(values.len());
        for chunk in values.chunks(WEIGH) {
            let mut params: Vec<Value> = chunk.iter().map(|v| Value::Bytes(v.as_bytes().to_vec())).collect();
            params.resize(WEIGH, Value::Bytes(Vec::new()));
            let started = Instant::now();
            let row: mysql::Row = db
                .conn
                .exec_first(&self.statements[key as usize], params)
                .context("weighing the keys of the candidate rows under their collations")?
                .context("the weigh statement returned no row")?;
            stats.statement(started.elapsed());
            self.waited += started.elapsed();
            stats.lookups += 1;
            let mut weights = row.unwrap();
            weights.truncate(chunk.len());
            for w in weights {
                out.push(
                    mysql::from_value_opt::<Vec<u8>>(w).map_err(|_| {
                        anyhow::anyhow!("the weigh statement returned a weight that is not a byte string")
                    })?,
                );
            }
        }
        Ok(out)
    }

    /// The weights of the steps (`Key::Step`) or devices of `rows`, asked once each.
    fn remembered<'a>(
        &mut self,
        db: &mut Db,
        key: Key,
        values: impl Iterator<Item = &'a str>,
        stats: &mut ScanStats,
    ) -> Result<()> {
        let known = &self.remembered[key as usize];
        let mut missing: Vec<&str> = values.filter(|v| !known.contains_key(*v)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let weights = self.weigh(db, key, &missing, stats)?;
        let known = &mut self.remembered[key as usize];
        if known.len() + missing.len() > REMEMBERED {
            known.clear();
        }
        for (v, w) in missing.into_iter().zip(weights) {
            known.insert(v.to_string(), w);
        }
        Ok(())
    }

    /// The weights of the candidate rows' keys: (step, device, phone) for each row.
    pub fn rows(&mut self, db: &mut Db, rows: &[Row], stats: &mut ScanStats) -> Result<Vec<[Vec<u8>; 3]>> {
        self.remembered(db, Key::Step, rows.iter().map(|r| r.0.as_str()), stats)?;
        self.remembered(db, Key::Device, rows.iter().map(|r| r.1.as_str()), stats)?;
        let phones: Vec<&str> = rows.iter().map(|r| r.2.recipient_phone.as_str()).collect();
        let phone_weights = self.weigh(db, Key::Phone, &phones, stats)?;
        let [steps, devices] = &self.remembered;
        rows.iter()
            .zip(phone_weights)
            .map(|((step, device, _), phone)| {
                let known =
                    |m: &HashMap<String, Vec<u8>>, v: &str| m.get(v).cloned().context("a key weight went missing");
                Ok([known(steps, step)?, known(devices, device)?, phone])
            })
            .collect()
    }
}

/// Weighs the candidates, sorts and groups them, and calls `on_group` for each partition
/// of several rows, in key order.
pub fn confirm(
    db: &mut Db,
    types: ValueTypes,
    collations: &Collations,
    mut candidates: Candidates,
    spill: &std::path::Path,
    stats: &mut ScanStats,
    on_group: &mut dyn FnMut(NearGroup) -> Result<()>,
) -> Result<()> {
    let mut sorter = extsort::ExternalSorter::new()
        .with_segment_size(run_rows(candidates.len()))
        .with_sort_dir(spill.to_path_buf())
        .pushed();
    let mut weigher = Weigher::new(types);
    let began = Instant::now();
    loop {
        let rows = candidates.next_batch(BATCH)?;
        if rows.is_empty() {
            break;
        }
        let weights = weigher.rows(db, &rows, stats)?;
        for ((step, device, copy), [step_w, device_w, phone_w]) in rows.into_iter().zip(weights) {
            stats.candidate_rows += 1;
            let near_w = collations.near.weight(&phone_w, collations.phone.trailing());
            let partition = [near_w.as_slice(), collations.step.strip(&step_w), collations.device.strip(&device_w)];
            sorter
                .push(Entry::new(partition, collations.phone.strip(&phone_w), &step, &device, &copy)?)
                .map_err(sort_error)?;
        }
    }
    log::debug!(
        "weights: {:.2} s in statements, {:.2} s in all",
        weigher.waited.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    let sorted = sorter.done().map_err(sort_error)?;
    stats.spilled(spill);
    let mut grouper = Grouper::default();
    for entry in sorted {
        let entry = entry.map_err(sort_error)?;
        if let Some(group) = grouper.push(entry)? {
            on_group(group)?;
        }
    }
    if let Some(group) = grouper.finish()? {
        on_group(group)?;
    }
    Ok(())
}

/// Appends `field` to `key` so that keys built field by field compare like the tuples of
/// their fields: 0x00 is escaped as 0x00 0xFF and every field ends with 0x00 0x00. Pure.
pub fn push_key_field(key: &mut Vec<u8>, field: &[u8]) {
    for &b in field {
        key.push(b);
        if b == 0 {
            key.push(0xFF);
        }
    }
    key.extend_from_slice(&[0, 0]);
}

/// How many rows the client sorts in memory before it writes them, sorted, to a temporary
/// file, for `rows` candidate rows. Scaled so that a large table makes at most about 256
/// such runs (each is an open file while they are merged), within bounds that keep memory
/// flat (about 25 MB at the upper bound). Pure.
pub fn run_rows(rows: u64) -> usize {
    (rows / 256).clamp(20_000, 50_000) as usize
}

/// One scanned row as the client sorts it, in one allocation: the partition key (near
/// weight, step, device), then the exact key (the phone) within the partition, both built
/// with `push_key_field`, then the row itself (`encode_row`). Both keys delimit themselves,
/// so sorting by the whole buffer puts the rows of each partition, and of each exact group
/// within it, next to each other. The near weight comes first because it differs soonest: most
/// comparisons end within a few bytes. Equal exact keys imply equal partition keys (the
/// near weight is a function of the phone's weight), so an exact group is never split.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    buf: Vec<u8>,
    partition_len: u32,
    phone_len: u32,
}

impl Entry {
    fn new(partition: [&[u8]; 3], phone: &[u8], step: &str, device: &str, copy: &Copy) -> Result<Entry> {
        let mut buf = Vec::with_capacity(partition.iter().map(|f| f.len() + 2).sum::<usize>() + phone.len() + 200);
        for field in partition {
            push_key_field(&mut buf, field);
        }
        let partition_len = buf.len();
        push_key_field(&mut buf, phone);
        let phone_len = buf.len() - partition_len;
        super::candidates::encode_row(&mut buf, step, device, copy)?;
        Ok(Entry { buf, partition_len: partition_len as u32, phone_len: phone_len as u32 })
    }

    fn partition(&self) -> &[u8] {
        &self.buf[..self.partition_len as usize]
    }

    fn phone(&self) -> &[u8] {
        &self.buf[self.partition_len as usize..(self.partition_len + self.phone_len) as usize]
    }

    fn row(&self) -> &[u8] {
        &self.buf[(self.partition_len + self.phone_len) as usize..]
    }
}

impl extsort::Sortable for Entry {
    fn encode<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&self.partition_len.to_le_bytes())?;
        w.write_all(&self.phone_len.to_le_bytes())?;
        w.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        w.write_all(&self.buf)
    }

    fn decode<R: Read>(r: &mut R) -> std::io::Result<Self> {
        let mut word = [0u8; 4];
        let mut next = |r: &mut R| -> std::io::Result<u32> {
            r.read_exact(&mut word)?;
            Ok(u32::from_le_bytes(word))
        };
        let (partition_len, phone_len, len) = (next(r)?, next(r)?, next(r)?);
        let mut buf = vec![0u8; len as usize];
        r.read_exact(&mut buf)?;
        Ok(Entry { buf, partition_len, phone_len })
    }
}

/// The row an entry carries, in the row log's encoding (`candidates::decode_row`).
fn decode_row(mut b: &[u8]) -> Result<Row> {
    super::candidates::decode_row(&mut b, true)
        .ok()
        .flatten()
        .context("a scanned row read back from the temporary file is truncated or damaged")
}

fn sort_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e)
        .context("cannot sort the scan in the temporary directory (set TMPDIR to a writable directory with free space)")
}

/// Turns sorted entries into partitions of more than one row. A partition's first row is
/// decoded only when a second one follows: most partitions hold one row.
#[derive(Default)]
struct Grouper {
    /// The first entry of the current partition.
    head: Option<Entry>,
    /// The current partition's rows with their exact-group rank, once it has two.
    rows: Vec<(u64, String, String, Copy)>,
    rank: u64,
    /// The exact key of the last row in `rows`.
    phone: Vec<u8>,
}

impl Grouper {
    fn push(&mut self, entry: Entry) -> Result<Option<NearGroup>> {
        let head = match &self.head {
            Some(head) if head.partition() == entry.partition() => head,
            _ => {
                let done = self.finish()?;
                self.head = Some(entry);
                return Ok(done);
            }
        };
        if self.rows.is_empty() {
            let (step, device, copy) = decode_row(head.row())?;
            self.rows.push((0, step, device, copy));
            self.rank = 0;
            self.phone.clear();
            self.phone.extend_from_slice(head.phone());
        }
        if entry.phone() != self.phone.as_slice() {
            self.rank += 1;
            self.phone.clear();
            self.phone.extend_from_slice(entry.phone());
        }
        let (step, device, copy) = decode_row(entry.row())?;
        self.rows.push((self.rank, step, device, copy));
        Ok(None)
    }

    fn finish(&mut self) -> Result<Option<NearGroup>> {
        self.head = None;
        if self.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(split_partition(std::mem::take(&mut self.rows))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(id: &str, phone: &str, ts: Option<i64>) -> Copy {
        Copy { id: id.into(), recipient_phone: phone.into(), sequence_id: None, status: None, created_us: ts }
    }

    fn entry(partition: [&[u8]; 3], phone: &[u8], id: &str) -> Entry {
        Entry::new(partition, phone, "s", "d", &copy(id, "60", Some(1))).unwrap()
    }

    #[test]
    fn key_fields_compare_like_tuples() {
        let key = |fields: &[&[u8]]| {
            let mut k = Vec::new();
            for f in fields {
                push_key_field(&mut k, f);
            }
            k
        };
        // Plain concatenation would make ("ab", "c") equal ("a", "bc").
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert!(key(&[b"a", b"z"]) < key(&[b"ab", b"a"]), "a shorter first field sorts first");
        assert!(key(&[b"a\0", b"a"]) > key(&[b"a", b"z"]));
        assert!(key(&[b"a", b"\0"]) > key(&[b"a", b""]));
        assert_eq!(key(&[b"x\0y", b""]), key(&[b"x\0y", b""]));
    }

    #[test]
    fn rows_survive_encoding() {
        let c = Copy {
            id: "i".into(),
            recipient_phone: "+60 1".into(),
            sequence_id: None,
            status: Some("sent".into()),
            created_us: Some(-5),
        };
        let encoded = |step: &str, device: &str, c: &Copy| {
            let mut out = vec![7];
            super::super::candidates::encode_row(&mut out, step, device, c).unwrap();
            out[1..].to_vec()
        };
        assert_eq!(decode_row(&encoded("s", "d", &c)).unwrap(), ("s".to_string(), "d".to_string(), c.clone()));
        let c = Copy { sequence_id: Some("q".into()), status: None, created_us: None, ..c };
        assert_eq!(decode_row(&encoded("", "é", &c)).unwrap(), (String::new(), "é".to_string(), c.clone()));
        let e = Entry::new([b"6\0", b"s", b"d"], b"60", "s", "d", &c).unwrap();
        assert_eq!((e.partition(), e.phone()), (&b"6\0\xff\0\0s\0\0d\0\0"[..], &b"60\0\0"[..]));
        assert_eq!(decode_row(e.row()).unwrap().2, c);
        assert!(decode_row(&[1, 9, 0, 0, 0, b'x']).is_err());
    }

    #[test]
    fn grouper_emits_only_partitions_of_several_rows_split_by_phone() {
        let mut g = Grouper::default();
        let mut out = Vec::new();
        for e in [
            entry([b"s1", b"d", b"60"], b"60", "a"),
            entry([b"s2", b"d", b"60"], b"+60", "b"),
            entry([b"s2", b"d", b"60"], b"60", "c"),
            entry([b"s2", b"d", b"60"], b"60", "d"),
            entry([b"s3", b"d", b"60"], b"60", "e"),
            entry([b"s4", b"d", b"60"], b"60", "f"),
            entry([b"s4", b"d", b"60"], b"60", "g"),
        ] {
            out.extend(g.push(e).unwrap());
        }
        out.extend(g.finish().unwrap());
        let ids: Vec<Vec<Vec<&str>>> = out
            .iter()
            .map(|n| n.groups.iter().map(|x| x.copies.iter().map(|c| c.id.as_str()).collect()).collect())
            .collect();
        assert_eq!(ids, vec![vec![vec!["b"], vec!["c", "d"]], vec![vec!["f", "g"]]]);
    }

    #[test]
    fn run_size_is_bounded() {
        assert_eq!(run_rows(0), 20_000);
        assert_eq!(run_rows(10_000_000), 39_062);
        assert_eq!(run_rows(1_000_000_000), 50_000);
    }

    #[test]
    fn the_weigh_statement_reads_no_table_and_has_a_mark_for_each_value() {
        let cs = Ident::new("c", "utf8mb4").unwrap();
        let coll = Ident::new("c", "utf8mb4_unicode_ci").unwrap();
        let types = ValueTypes([
            Fragment::converted_value(&cs, &coll),
            Fragment::sql("CAST(? AS BINARY)"),
            Fragment::converted_value(&cs, &coll),
        ]);
        let q = query(&types, Key::Phone, 3);
        assert!(!q.contains('{') && !q.contains("FROM"), "reads no table: {q}");
        let code: String = q.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
        let one =
            "WEIGHT_STRING(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING utf8mb4) COLLATE utf8mb4_unicode_ci)";
        assert_eq!(code, format!("SELECT {one}, {one}, {one}"));
        let binary = query(&types, Key::Device, 2);
        assert!(
            binary.ends_with("SELECT WEIGHT_STRING(CAST(? AS BINARY)), WEIGHT_STRING(CAST(? AS BINARY))\n"),
            "{binary}"
        );
    }
}
