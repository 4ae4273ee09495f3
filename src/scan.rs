//! The read-only scan that finds duplicate sequence messages, shared by `audit`, `dedupe`
//! and `status`. The server sends the candidate sequence messages (those whose hashed key
//! occurs more than once) with the collation weights of their keys; the client sorts them
//! (an external merge sort, see `scan`) and hands the caller one `NearGroup` at a time:
//! every (step, device, near weight) partition holding more than one row, split into
//! exact groups (the unique index's equality, and nothing else). The near weight is the
//! phone's collation weight without punctuation and spacing, so a partition is a union of
//! exact groups and its several groups, if any, are near-duplicates. Memory is bounded by the sort's run size and the largest group, not by
//! the table.
use std::io::{Read, Write};

use anyhow::{Context, Result};
use mysql::prelude::Queryable;

use crate::config::Ident;
use crate::db::Db;
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

/// The progress line of a scan of `table` (`estimated_rows` from the server's statistics):
/// a spinner counting candidate rows, since the server reads the table before the first
/// one arrives and how many there will be is not known in advance.
pub fn progress_message(estimated_rows: u64, table: &str) -> String {
    format!("scanning ~{estimated_rows} rows of {table}; candidate rows received:")
}

/// What the pass saw in total.
#[derive(Debug, Clone, Default)]
pub struct ScanTotals {
    /// Rows whose step is neither NULL nor empty.
    pub sequence_messages: u64,
    /// Rows whose step is the empty string (under the column's collation): no sequence to
    /// the application, left out of the groups.
    pub empty_steps: u64,
}

/// The punctuation and spacing characters whose weights the near weight leaves out
/// (`sql/audit/near_phone.sql`): rows whose phones differ only in these are
/// near-duplicates. The ASCII ones, then Unicode spaces and their fullwidth and dash
/// variants; under most collations several weigh the same, which does no harm. Exactly as
/// many as near_phone.sql has slots.
pub const NEAR_CHARACTERS: [char; 20] = [
    ' ', '-', '+', '(', ')', '.', '/', '\u{a0}', '\u{2007}', '\u{202f}', '\u{2009}', '\u{3000}', '\u{2010}',
    '\u{2011}', '\u{2013}', '\u{ff0b}', '\u{ff0d}', '\u{ff08}', '\u{ff09}', '\u{ff0e}',
];

/// The weights near_phone.sql removes, one per `NEAR_CHARACTERS` slot: a character the
/// column cannot hold (`None`), or that weighs the same as an earlier one, gets an empty
/// pattern, which removes nothing. Pure.
pub fn near_patterns(weights: &[Option<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut seen: Vec<&[u8]> = Vec::new();
    weights
        .iter()
        .map(|w| match w {
            Some(w) if !w.is_empty() && !seen.contains(&w.as_slice()) => {
                seen.push(w);
                w.clone()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// How one key column's collation compares: the weight of a space, and whether trailing
/// spaces are ignored (PAD SPACE). From `sql/audit/collation.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padding {
    pub space_weight: Vec<u8>,
    pub pad_space: bool,
}

impl Padding {
    /// What the server's candidate filter trims from the end of a weight (`TRIM(TRAILING
    /// ... FROM WEIGHT_STRING(...))` in scan.sql): the space weight under PAD SPACE,
    /// nothing under NO PAD. Pure.
    pub fn trailing(&self) -> &[u8] {
        if self.pad_space {
            &self.space_weight
        } else {
            &[]
        }
    }

    /// The weight without trailing space weights when the collation ignores trailing
    /// spaces, so that keys equal under the collation have equal bytes. A weight is a
    /// sequence of units as long as a space's; only whole trailing units go. Pure.
    pub fn strip<'a>(&self, mut weight: &'a [u8]) -> &'a [u8] {
        let unit = self.space_weight.len();
        if !self.pad_space || unit == 0 {
            return weight;
        }
        while weight.len() >= unit && weight.len() % unit == 0 && weight.ends_with(&self.space_weight) {
            weight = &weight[..weight.len() - unit];
        }
        weight
    }
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
/// file. Scaled so that a large table makes at most about 256 such runs (each is an open
/// file while they are merged), within bounds that keep memory flat (about 25 MB at the
/// upper bound). Pure.
pub fn run_rows(estimated_rows: u64) -> usize {
    (estimated_rows / 256).clamp(20_000, 50_000) as usize
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
    fn new(partition: [&[u8]; 3], phone: &[u8], step: &str, device: &str, copy: &Copy) -> Entry {
        let mut buf = Vec::with_capacity(partition.iter().map(|f| f.len() + 2).sum::<usize>() + phone.len() + 200);
        for field in partition {
            push_key_field(&mut buf, field);
        }
        let partition_len = buf.len();
        push_key_field(&mut buf, phone);
        let phone_len = buf.len() - partition_len;
        encode_row(&mut buf, step, device, copy);
        Entry { buf, partition_len: partition_len as u32, phone_len: phone_len as u32 }
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

/// A scanned row: step, device and the copy. What `split_partition` takes, less the rank.
type Row = (String, String, Copy);

/// Appends a row, compactly, to `out`. Pure; `decode_row` reverses it.
fn encode_row(out: &mut Vec<u8>, step: &str, device: &str, c: &Copy) {
    let mut text = |s: Option<&str>| match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    };
    text(Some(step));
    text(Some(device));
    text(Some(&c.id));
    text(Some(&c.recipient_phone));
    text(c.sequence_id.as_deref());
    text(c.status.as_deref());
    match c.created_us {
        None => out.push(0),
        Some(ts) => {
            out.push(1);
            out.extend_from_slice(&ts.to_le_bytes());
        }
    }
}

fn decode_row(mut b: &[u8]) -> Result<Row> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        anyhow::ensure!(b.len() >= n, "a scanned row read back from the temporary file is truncated");
        let (head, tail) = b.split_at(n);
        *b = tail;
        Ok(head)
    }
    fn text(b: &mut &[u8]) -> Result<Option<String>> {
        if take(b, 1)?[0] == 0 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(take(b, 4)?.try_into()?) as usize;
        Ok(Some(String::from_utf8(take(b, len)?.to_vec())?))
    }
    fn required(b: &mut &[u8]) -> Result<String> {
        text(b)?.context("a scanned row read back from the temporary file lost a field")
    }
    let step = required(&mut b)?;
    let device = required(&mut b)?;
    let id = required(&mut b)?;
    let recipient_phone = required(&mut b)?;
    let sequence_id = text(&mut b)?;
    let status = text(&mut b)?;
    let created_us =
        if take(&mut b, 1)?[0] == 0 { None } else { Some(i64::from_le_bytes(take(&mut b, 8)?.try_into()?)) };
    Ok((step, device, Copy { id, recipient_phone, sequence_id, status, created_us }))
}

/// How near_phone.sql computes the near weight in the phone column's collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Near {
    /// The collation weighs in several levels: the near weight keeps the first.
    pub several_levels: bool,
    /// One per `NEAR_CHARACTERS` slot, as `near_patterns`.
    pub patterns: Vec<Vec<u8>>,
}

impl Default for Near {
    /// One level, and every pattern empty (removing nothing).
    fn default() -> Near {
        Near { several_levels: false, patterns: vec![Vec::new(); NEAR_CHARACTERS.len()] }
    }
}

/// The weights of `NEAR_CHARACTERS` in the phone column's collation.
fn near_weights(db: &mut Db, info: &TableInfo) -> Result<Near> {
    let col =
        info.column("recipient_phone").with_context(|| format!("table {} has no column recipient_phone", info.name))?;
    let (Some(charset), Some(collation)) = (&col.charset, &col.collation) else {
        // A binary string: its weight is its bytes.
        let bytes: Vec<Option<Vec<u8>>> = NEAR_CHARACTERS.iter().map(|c| Some(c.to_string().into_bytes())).collect();
        return Ok(Near { several_levels: false, patterns: near_patterns(&bytes) });
    };
    let query = crate::sql::render_parts(
        crate::sql::SCAN_NEAR_WEIGHT,
        &[],
        &[
            ("charset", &Fragment::word(&Ident::new("character set", charset)?)),
            ("collation", &Fragment::word(&Ident::new("collation", collation)?)),
        ],
    );
    let mut weights = Vec::with_capacity(NEAR_CHARACTERS.len());
    let mut several_levels = false;
    for c in NEAR_CHARACTERS {
        let utf8 = c.to_string().into_bytes();
        let (w, several): (Option<Vec<u8>>, bool) = db
            .conn
            .exec_first(&query, (&utf8, &utf8, &utf8, &utf8))
            .with_context(|| format!("cannot ask the server how collation {collation} weighs punctuation"))?
            .context("the punctuation probe returned no row")?;
        weights.push(w);
        several_levels = several;
    }
    Ok(Near { several_levels, patterns: near_patterns(&weights) })
}

/// How the collations of the key columns (step, device, phone) pad.
fn paddings(db: &mut Db, info: &TableInfo) -> Result<[Padding; 3]> {
    let mut probe = |name: &str| -> Result<Padding> {
        let col = info.column(name).with_context(|| format!("table {} has no column {name}", info.name))?;
        let (Some(charset), Some(collation)) = (&col.charset, &col.collation) else {
            // A binary string (no character set): its weight is its bytes, and nothing pads.
            return Ok(Padding { space_weight: Vec::new(), pad_space: false });
        };
        let query = crate::sql::render_parts(
            crate::sql::SCAN_COLLATION,
            &[],
            &[
                ("charset", &Fragment::word(&Ident::new("character set", charset)?)),
                ("collation", &Fragment::word(&Ident::new("collation", collation)?)),
            ],
        );
        let (space_weight, pad_space): (Vec<u8>, bool) = db
            .conn
            .query_first(query)
            .with_context(|| format!("cannot ask the server how collation {collation} compares trailing spaces"))?
            .context("the collation probe returned no row")?;
        Ok(Padding { space_weight, pad_space })
    };
    Ok([probe("sequence_stepid")?, probe("device_id")?, probe("recipient_phone")?])
}

/// The error for a scanned row of unexpected types: the columns' names and types, never
/// their values (a row holds a phone number).
fn unexpected_shape(row: &mysql::Row) -> anyhow::Error {
    let columns: Vec<String> =
        row.columns_ref().iter().map(|c| format!("{} {:?}", c.name_str(), c.column_type())).collect();
    anyhow::anyhow!("the scan returned a row of unexpected types ({})", columns.join(", "))
}

fn sort_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e)
        .context("cannot sort the scan in the temporary directory (set TMPDIR to a writable directory with free space)")
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

/// The scan statement of `table` (`sql/audit/scan.sql`); `keys_only` leaves out the
/// detail columns, so that the unique index covers it; `created` is `created_us` of the
/// table. Its parameters: `params`.
pub fn query(table: &Ident, keys_only: bool, created: &Fragment) -> String {
    use crate::sql::{SCAN, SCAN_CANDIDATE_HASH, SCAN_DETAILS, SCAN_DETAILS_KEYS_ONLY, SCAN_NEAR_PHONE};
    let details = if keys_only { SCAN_DETAILS_KEYS_ONLY } else { SCAN_DETAILS };
    let details = Fragment::sql_with(details, &[("created_us", created)]);
    // {hash} holds {near}, so it is spliced first and its {near} filled with the others.
    crate::sql::render_parts(
        SCAN,
        &[("table", table)],
        &[
            ("hash", &Fragment::sql(SCAN_CANDIDATE_HASH)),
            ("near", &Fragment::sql(SCAN_NEAR_PHONE)),
            ("details", &details),
        ],
    )
}

/// The scan statement's parameters, in the order of its `?`: the near weight in the select
/// list (several levels or not, the phone's trailing space weight twice, then each near
/// pattern), then the candidate hash twice (the near weight's, then the step's trailing
/// space weight). Pure.
pub fn params(phone_trim: &[u8], step_trim: &[u8], near: &Near) -> Vec<Vec<u8>> {
    let mut near_params = vec![if near.several_levels { b"1".to_vec() } else { b"0".to_vec() }];
    near_params.extend([phone_trim.to_vec(), phone_trim.to_vec()]);
    near_params.extend(near.patterns.iter().cloned());
    let mut hash_params = near_params.clone();
    hash_params.push(step_trim.to_vec());
    let mut all = near_params;
    all.extend(hash_params.iter().cloned());
    all.extend(hash_params);
    all
}

/// Runs the pass over `info`'s table. `keys_only` reads only the key columns (right when
/// the unique index exists: then no exact copies can exist and the index covers the scan).
/// `on_row` is called for each row received (for progress), `on_group` for each partition
/// of more than one row, in key order.
///
/// The server sends only candidate rows, with their collation weights, unsorted
/// (`sql/audit/scan.sql`: rows whose hash of (near, step) weights occurs more than once,
/// which includes every row of every partition of more than one row); the client sorts
/// them by the weights of (near, step, device, phone) with an external merge sort
/// (`extsort`: runs of `run_rows` rows sorted in memory and written to files under the
/// temporary directory, `TMPDIR`, then merged) and groups consecutive rows. Memory is
/// bounded by the run size and the largest partition, not by the table; the temporary
/// files take about 400 bytes per candidate row. The total of sequence messages comes from
/// a count (`sql/audit/count.sql`).
///
/// It all runs on a thread of lower CPU priority (`priority::lowered`): it holds no row
/// locks, and on the database host its sorting bursts otherwise delay the application's
/// own statements (docs/benchmarks.md).
pub fn scan(
    db: &mut Db,
    info: &TableInfo,
    keys_only: bool,
    on_row: impl FnMut(u64) + Send,
    on_group: impl FnMut(NearGroup) -> Result<()> + Send,
) -> Result<ScanTotals> {
    crate::priority::lowered(|| scan_here(db, info, keys_only, on_row, on_group))
}

/// `scan`, on the calling thread.
fn scan_here(
    db: &mut Db,
    info: &TableInfo,
    keys_only: bool,
    mut on_row: impl FnMut(u64),
    mut on_group: impl FnMut(NearGroup) -> Result<()>,
) -> Result<ScanTotals> {
    let table = Ident::new("table", &info.name)?;
    let [step_pad, device_pad, phone_pad] = paddings(db, info)?;
    let near = near_weights(db, info)?;
    let count: Option<(u64, u64)> = db
        .conn
        .query_first(crate::sql::render(crate::sql::SCAN_COUNT, &[("table", &table)]))
        .with_context(|| format!("counting the sequence messages of {}.{}", db.database, table))?;
    let (sequence_messages, empty_steps) = count.unwrap_or((0, 0));
    let totals = ScanTotals { sequence_messages, empty_steps };
    let query = query(&table, keys_only, &created_us(info, None)?);
    let params = params(phone_pad.trailing(), step_pad.trailing(), &near);
    // The runs hold phones: a private directory of private files (`spill`), removed on return.
    let spill = crate::spill::dir("the scan")?;
    let mut sorter = extsort::ExternalSorter::new()
        .with_segment_size(run_rows(info.estimated_rows))
        .with_sort_dir(spill.path().to_path_buf())
        .pushed();
    let mut received = 0u64;
    let result = db
        .conn
        .exec_iter(query, params)
        .with_context(|| format!("scanning {}.{} for duplicate sequence messages", db.database, table))?;
    for row in result {
        let row = row.with_context(|| format!("reading the scan of {}", table))?;
        #[allow(clippy::type_complexity)]
        let (id, step, device, phone, sequence_id, status, created_us, step_w, device_w, near_w, phone_w): (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Vec<u8>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        ) = mysql::from_row_opt(row).map_err(|e| unexpected_shape(&e.0))?;
        received += 1;
        on_row(received);
        // NULLs never collide under a unique index: a row with a NULL device or phone
        // cannot be a duplicate.
        let (Some(device), Some(phone), Some(device_w), Some(near_w), Some(phone_w)) =
            (device, phone, device_w, near_w, phone_w)
        else {
            continue;
        };
        let copy = Copy { id, recipient_phone: phone, sequence_id, status, created_us };
        // The near weight is trimmed by the server already (near_phone.sql).
        let partition = [near_w.as_slice(), step_pad.strip(&step_w), device_pad.strip(&device_w)];
        sorter.push(Entry::new(partition, phone_pad.strip(&phone_w), &step, &device, &copy)).map_err(sort_error)?;
    }
    let mut grouper = Grouper::default();
    for entry in sorter.done().map_err(sort_error)? {
        let entry = entry.map_err(sort_error)?;
        if let Some(group) = grouper.push(entry)? {
            on_group(group)?;
        }
    }
    if let Some(group) = grouper.finish()? {
        on_group(group)?;
    }
    Ok(totals)
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

    fn entry(partition: [&[u8]; 3], phone: &[u8], id: &str) -> Entry {
        Entry::new(partition, phone, "s", "d", &copy(id, "60", Some(1)))
    }

    #[test]
    fn strips_only_whole_trailing_space_units_under_pad_space() {
        let pad = Padding { space_weight: vec![0x02, 0x09], pad_space: true };
        assert_eq!(pad.strip(&[0x0E, 0x33, 0x02, 0x09, 0x02, 0x09]), [0x0E, 0x33]);
        assert_eq!(pad.strip(&[0x02, 0x09, 0x0E, 0x33]), [0x02, 0x09, 0x0E, 0x33], "leading spaces count");
        // 0x09 0x02 0x09 ends in the space's bytes but not on a unit boundary.
        assert_eq!(pad.strip(&[0x09, 0x02, 0x09]), [0x09, 0x02, 0x09]);
        assert_eq!(pad.strip(&[0x02, 0x09]), [] as [u8; 0], "all spaces equal the empty string");
        let no_pad = Padding { space_weight: vec![0x02, 0x09], pad_space: false };
        assert_eq!(no_pad.strip(&[0x0E, 0x33, 0x02, 0x09]), [0x0E, 0x33, 0x02, 0x09]);
        let bin = Padding { space_weight: vec![0, 0, 0x20], pad_space: true };
        assert_eq!(bin.strip(&[0, 0, 0x61, 0, 0, 0x20]), [0, 0, 0x61]);
    }

    #[test]
    fn the_key_only_scan_reads_no_column_outside_the_unique_index() {
        let t = Ident::new("table", "m").unwrap();
        let created =
            Fragment::sql_with(crate::sql::CREATED_US_TIMESTAMP, &[("created_at", &Fragment::sql("created_at"))]);
        let (full, keys) = (query(&t, false, &created), query(&t, true, &created));
        assert!(full.contains("SELECT id, sequence_stepid, device_id, recipient_phone, sequence_id, status, CAST(UNIX_TIMESTAMP(created_at) * 1000000 AS SIGNED) AS created_us,"), "{full}");
        assert!(keys.contains("SELECT id, sequence_stepid, device_id, recipient_phone, NULL AS sequence_id, NULL AS status, NULL AS created_us,"), "{keys}");
        for q in [&full, &keys] {
            assert!(!q.contains('{'), "unfilled placeholder: {q}");
            assert_eq!(q.matches("FROM `m`").count(), 2, "{q}");
            // The near weight: sent once to the client, hashed twice for the filter.
            assert_eq!(q.matches("FROM WEIGHT_STRING(recipient_phone)),").count(), 3, "{q}");
            assert_eq!(q.matches("CRC32(").count(), 2, "{q}");
            let marks: usize =
                q.lines().filter(|l| !l.trim_start().starts_with("--")).map(|l| l.matches('?').count()).sum();
            let near = Near { several_levels: false, patterns: near_patterns(&vec![None; NEAR_CHARACTERS.len()]) };
            let p = params(b"p", b"s", &near);
            assert_eq!(marks, p.len(), "one parameter for each ?: {q}");
            assert_eq!(marks, 3 * (3 + NEAR_CHARACTERS.len()) + 2, "{q}");
            // The exact key is the weights alone: no text function touches the key columns.
            assert!(!q.contains("REPLACE(recipient_phone") && !q.contains("REPLACE(\n  recipient_phone"), "{q}");
        }
        // Beyond the detail columns the two are the same statement.
        assert_eq!(
            keys.replace("NULL AS sequence_id, NULL AS status, NULL AS created_us", "D"),
            full.replace(
                "sequence_id, status, CAST(UNIX_TIMESTAMP(created_at) * 1000000 AS SIGNED) AS created_us",
                "D"
            )
        );
    }

    #[test]
    fn near_patterns_skip_unheld_empty_and_repeated_weights() {
        let w = |b: &[u8]| Some(b.to_vec());
        let got = near_patterns(&[w(b"\x02\x09"), None, w(b""), w(b"\x02\x09"), w(b"\x02\x0d")]);
        assert_eq!(got, vec![b"\x02\x09".to_vec(), vec![], vec![], vec![], b"\x02\x0d".to_vec()]);
    }

    #[test]
    fn the_parameters_follow_the_statement() {
        let near = Near { several_levels: true, patterns: vec![b"a".to_vec(), b"b".to_vec()] };
        let s = |x: &[u8]| x.to_vec();
        let n = [s(b"1"), s(b"T"), s(b"T"), s(b"a"), s(b"b")];
        let want: Vec<Vec<u8>> = n.iter().chain(&n).chain([&s(b"S")]).chain(&n).chain([&s(b"S")]).cloned().collect();
        assert_eq!(params(b"T", b"S", &near), want);
    }

    #[test]
    fn the_near_statement_has_a_slot_for_each_near_character() {
        let marks = crate::sql::SCAN_NEAR_PHONE
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .map(|l| l.matches('?').count())
            .sum::<usize>();
        assert_eq!(marks, 3 + NEAR_CHARACTERS.len());
    }

    #[test]
    fn the_server_trims_the_space_weight_only_under_pad_space() {
        let pad = Padding { space_weight: vec![0x02, 0x09], pad_space: true };
        assert_eq!(pad.trailing(), [0x02, 0x09]);
        let no_pad = Padding { space_weight: vec![0x02, 0x09], pad_space: false };
        assert_eq!(no_pad.trailing(), [] as [u8; 0]);
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
            encode_row(&mut out, step, device, c);
            out[1..].to_vec()
        };
        assert_eq!(decode_row(&encoded("s", "d", &c)).unwrap(), ("s".to_string(), "d".to_string(), c.clone()));
        let c = Copy { sequence_id: Some("q".into()), status: None, created_us: None, ..c };
        assert_eq!(decode_row(&encoded("", "é", &c)).unwrap(), (String::new(), "é".to_string(), c.clone()));
        let e = Entry::new([b"6\0", b"s", b"d"], b"60", "s", "d", &c);
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
}
