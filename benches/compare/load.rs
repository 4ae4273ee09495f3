//! Loading the data: the generator's messages written as tab-separated text in primary-key
//! order and loaded with `LOAD DATA LOCAL INFILE` (sorted runs merged, one loader per run), and
//! a digest of a table to prove two copies identical.
use super::*;

/// The messages table's columns as `bulk_load` writes them (those `fixture::insert` sets,
/// with `updated_at` = `created_at` as there).
pub(crate) const LOAD_COLUMNS: &str =
    "id, user_id, device_id, campaign_id, sequence_id, recipient_phone, message_type, \
     content, media_url, status, error_message, scheduled_at, sent_at, created_at, updated_at, recipient_name, \
     sequence_stepid, processing_worker_id, device_name";
/// Rows per `LOAD DATA` statement (and per file).
pub(crate) const LOAD_CHUNK: usize = 1_000_000;

/// Appends `v` as one field of a `LOAD DATA` line (tab-separated, backslash escapes, NULL
/// as `\N`).
pub(crate) fn field(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.extend_from_slice(b"\\N"),
        Some(s) => {
            for &c in s.as_bytes() {
                match c {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    0 => out.extend_from_slice(b"\\0"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` in UTC: what `FROM_UNIXTIME` gives in a UTC
/// session (fixture::insert's conversion), written as text so that the server parses a
/// plain value instead of evaluating an expression per row.
pub(crate) fn utc_datetime(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One message as a `LOAD DATA` line, fields in the order of `LOAD_COLUMNS`.
pub(crate) fn load_line(out: &mut Vec<u8>, m: &fixture::Message) {
    let (campaign, scheduled, sent, created) = (
        m.campaign_id.map(|v| v.to_string()),
        m.scheduled_at.map(utc_datetime),
        m.sent_at.map(utc_datetime),
        m.created_at.map(utc_datetime),
    );
    let fields: [Option<&str>; 19] = [
        Some(&m.id),
        Some(&m.user_id),
        Some(&m.device_id),
        campaign.as_deref(),
        m.sequence_id.as_deref(),
        Some(&m.recipient_phone),
        Some(&m.message_type),
        Some(&m.content),
        m.media_url.as_deref(),
        Some(&m.status),
        m.error_message.as_deref(),
        scheduled.as_deref(),
        sent.as_deref(),
        created.as_deref(),
        created.as_deref(),
        Some(&m.recipient_name),
        m.sequence_stepid.as_deref(),
        m.processing_worker_id.as_deref(),
        m.device_name.as_deref(),
    ];
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        field(out, f);
    }
    out.push(b'\n');
}

/// Loads `rows` generated messages (`fixture::generate`: the rows `fixture::insert` would
/// insert) into `url`'s messages table with `LOAD DATA LOCAL INFILE`, the server's bulk
/// path, in primary-key order:
/// 1. the rows are written as lines, `chunk` at a time, each chunk sorted by id and split
///    by the id's first hex digit into one file per loader (sorted runs, under the target's
///    temporary directory);
/// 2. one loader per core merges its runs and sends them, `chunk` rows per statement
///    (autocommit), each into its own range of the key.
///
/// In key order, InnoDB appends to the primary key instead of inserting at random places:
/// each page is filled once and written once, so the load does not slow down once the
/// table outgrows the buffer pool, and the table is as compact as its copies (which
/// `INSERT ... SELECT` writes in key order too). The runs are removed at the end.
pub(crate) fn bulk_load(url: &str, rows: usize, seed: u64, chunk: usize) -> Json {
    use std::io::Write;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compare-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let loaders = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    // 1. Sorted runs.
    let started = Instant::now();
    let mut runs: Vec<Vec<PathBuf>> = vec![vec![]; loaders];
    let mut it = fixture::generate(&Spec::new(rows, seed)).peekable();
    let (mut buf, mut lines) = (Vec::<u8>::new(), Vec::<(usize, usize)>::new());
    while it.peek().is_some() {
        buf.clear();
        lines.clear();
        for m in it.by_ref().take(chunk) {
            let start = buf.len();
            load_line(&mut buf, &m);
            lines.push((start, buf.len()));
        }
        // The id is the line's first field: UUIDs in lowercase hex, whose byte order is
        // the collation's order (digits before letters, hyphens in the same places).
        lines.sort_unstable_by(|a, b| buf[a.0..a.1].cmp(&buf[b.0..b.1]));
        let n = runs[0].len();
        let mut files: Vec<std::io::BufWriter<std::fs::File>> = (0..loaders)
            .map(|p| {
                let path = dir.join(format!("run-{n}-{p}.tsv"));
                runs[p].push(path.clone());
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap())
            })
            .collect();
        for &(a, z) in &lines {
            let digit = (buf[a] as char).to_digit(16).unwrap_or(0) as usize;
            files[digit * loaders / 16].write_all(&buf[a..z]).unwrap();
        }
        for f in files {
            f.into_inner().unwrap();
        }
    }
    drop((buf, lines));
    let runs_secs = started.elapsed().as_secs_f64();
    // 2. One loader per range of the key, each merging its runs.
    let started = Instant::now();
    let statements: usize = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(p, files)| {
                let merged = Arc::new(std::sync::Mutex::new(Merge::new(files)));
                let feed = merged.clone();
                let marker = format!("{}/load-{p}-", dir.display());
                let dir = &dir;
                s.spawn(move || {
                    // The handler answers only this loader's own requests, from its merge.
                    let handler = mysql::LocalInfileHandler::new(move |name, out| {
                        if !name.starts_with(marker.as_bytes()) {
                            let name = String::from_utf8_lossy(name);
                            return Err(std::io::Error::other(format!("not a file of this load: {name}")));
                        }
                        let mut m = feed.lock().unwrap();
                        for _ in 0..chunk {
                            match m.next_line()? {
                                Some(line) => out.write_all(&line)?,
                                None => break,
                            }
                        }
                        Ok(())
                    });
                    let opts =
                        mysql::OptsBuilder::from_opts(Opts::from_url(url).unwrap()).local_infile_handler(Some(handler));
                    let mut c = Conn::new(opts).expect("connect to the bench server");
                    // The loader's session: UTC (as fixture::insert), no binary log for an
                    // untimed setup. (unique_checks and foreign_key_checks stay on: with both
                    // off, MariaDB fills an empty table with its bulk insert, which locks the
                    // table and was seen to deadlock the first statement of a small load.)
                    c.query_drop("SET time_zone = '+00:00'").unwrap();
                    skip_binlog(&mut c);
                    let mut k = 0;
                    while !merged.lock().unwrap().done() {
                        let q = format!(
                            "LOAD DATA LOCAL INFILE '{}/load-{p}-{k}' INTO TABLE {TABLE} CHARACTER SET utf8mb4 \
                             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({LOAD_COLUMNS})",
                            dir.display()
                        );
                        c.query_drop(&q).unwrap_or_else(|e| panic!("{e}: {q}"));
                        let warnings: u64 = c.query_first("SELECT @@warning_count").unwrap().unwrap_or(0);
                        assert_eq!(warnings, 0, "LOAD DATA warned: {:?}", c.query::<mysql::Row, _>("SHOW WARNINGS"));
                        k += 1;
                    }
                    k
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a loader")).sum()
    });
    let load_secs = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).unwrap();
    json!({"rows": rows, "loaders": loaders, "statements": statements, "rows_per_statement": chunk,
           "sorted_runs_secs": runs_secs, "load_data_secs": load_secs})
}

/// The k-way merge of sorted runs of lines (smallest line first).
pub(crate) struct Merge {
    files: Vec<std::io::BufReader<std::fs::File>>,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(Vec<u8>, usize)>>,
}

impl Merge {
    fn new(paths: &[PathBuf]) -> Merge {
        let mut m = Merge { files: vec![], heap: Default::default() };
        for p in paths {
            m.files.push(std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(p).unwrap()));
            m.refill(m.files.len() - 1).unwrap();
        }
        m
    }

    fn refill(&mut self, i: usize) -> std::io::Result<()> {
        use std::io::BufRead;
        let mut line = Vec::with_capacity(512);
        if self.files[i].read_until(b'\n', &mut line)? > 0 {
            self.heap.push(std::cmp::Reverse((line, i)));
        }
        Ok(())
    }

    fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(std::cmp::Reverse((line, i))) = self.heap.pop() else { return Ok(None) };
        self.refill(i)?;
        Ok(Some(line))
    }

    fn done(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Turns the binary log off for this session where there is one (MySQL as it ships):
/// setting up copies of the data is not what is measured. Ignored where not allowed.
pub(crate) fn skip_binlog(c: &mut Conn) {
    let _ = c.query_drop("SET sql_log_bin = 0");
}

/// A digest of every column of every messages row in primary-key order, with CHECKSUM
/// TABLE's figure: `rows:digest:checksum`.
pub(crate) fn table_digest(url: &str) -> String {
    use std::hash::Hasher;
    let mut c = conn(url);
    let mut h = siphasher::sip::SipHasher13::new();
    let mut n = 0u64;
    for r in c.query_iter(format!("SELECT * FROM {TABLE} ORDER BY id")).unwrap() {
        let r = r.unwrap();
        for i in 0..r.len() {
            h.write(format!("{:?}|", r.as_ref(i)).as_bytes());
        }
        h.write(b"\n");
        n += 1;
    }
    let sum: Option<(String, Option<u64>)> = c.query_first(format!("CHECKSUM TABLE {TABLE}")).unwrap();
    format!("{n}:{:016x}:{}", h.finish(), sum.and_then(|s| s.1).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// Sections
