//! `cargo bench --bench compare [-- --rows N]`: seqfix measured side by side with the
//! original fix, the plain-SQL physical limit and the per-contact loop, on one private
//! server started for the run, each contender on an identical fresh copy of the data.
//!
//! Every contender runs `--reps` times (default 3) and the median is reported, with the
//! ratio to the reference of its section and whether the target of the issue is met.
//! seqfix is driven as the real release binary through its command line; a subcommand the
//! binary does not have (clap: "unrecognized subcommand") is reported as "not available in
//! this build" instead of failing, so the benchmark runs on any stage of the project.
//!
//! Output: a table on stdout, `target/bench/compare.json`, and the results section of
//! `docs/benchmarks.md` (text outside its markers is kept).
#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, ServerOpts, TestDb};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, TxOpts, Value};
use seqfix_fixture::messages::{self as fixture, Spec};
use serde_json::{json, Value as Json};

const SEED: u64 = 42;
const TABLE: &str = "broadcast_messages";
const NOT_AVAILABLE: &str = "not available in this build";

/// The fastest single query listing the surplus rows (the reference of audit and dedupe).
const WINDOW_QUERY: &str = "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY sequence_stepid, \
     recipient_phone, device_id ORDER BY created_at IS NULL, created_at, id) rn FROM broadcast_messages \
     WHERE sequence_stepid IS NOT NULL) x WHERE rn > 1";
/// The physical floor of a scan: one plain streaming read of the columns a duplicate scan
/// needs, every row fetched by the client and discarded.
const FLOOR_QUERY: &str =
    "SELECT id, sequence_stepid, recipient_phone, device_id, created_at, status FROM broadcast_messages";
const FLOOR: &str = "floor: one streaming read of the six columns";
const GROUP_BY_QUERY: &str = "SELECT sequence_stepid, recipient_phone, device_id, COUNT(*) FROM broadcast_messages \
     WHERE sequence_stepid IS NOT NULL GROUP BY sequence_stepid, recipient_phone, device_id HAVING COUNT(*) > 1";
const COUNT_GROUPS: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM broadcast_messages WHERE sequence_stepid IS NOT NULL \
     GROUP BY sequence_stepid, recipient_phone, device_id HAVING COUNT(*) > 1) g";
/// The cleanup of the original fix, verbatim.
const ORIGINAL_DELETE: &str = "DELETE bm1 FROM broadcast_messages bm1 INNER JOIN broadcast_messages bm2 \
     WHERE bm1.sequence_stepid = bm2.sequence_stepid AND bm1.recipient_phone = bm2.recipient_phone \
     AND bm1.device_id = bm2.device_id AND bm1.created_at > bm2.created_at";
const BARE_ALTER: &str = "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message \
     (sequence_stepid, recipient_phone, device_id)";

// ---------------------------------------------------------------------------------------
// Arguments

struct Args {
    rows: usize,
    reps: usize,
    contacts: usize,
    loop_contacts: usize,
    join_sizes: Vec<usize>,
    writer_idle_secs: u64,
    /// `--buffer-pool SIZE` (e.g. 1G, 512M; default 2G): the private server's
    /// innodb_buffer_pool_size. A table larger than it is the normal case at scale.
    buffer_pool: String,
    /// `--server mariadb|mysql`: which private server to measure on (MySQL from the root
    /// scripts/mysql-server.sh builds).
    server: String,
    /// `--only audit,audit-index,dedupe,join,migrate,process,impact,history,memory`: a subset
    /// (its results go to a section of docs/benchmarks.md of their own, see `doc_section`).
    only: Option<Vec<String>>,
    /// `--no-doc`: leave docs/benchmarks.md alone (development runs).
    no_doc: bool,
}

impl Args {
    /// cargo passes `--bench` (and possibly filters) to harness=false benches: unknown
    /// arguments are ignored.
    fn parse() -> Args {
        let mut a = Args {
            rows: 1_000_000,
            reps: 3,
            contacts: 100_000,
            loop_contacts: 5_000,
            join_sizes: vec![5_000, 10_000, 20_000],
            writer_idle_secs: 5,
            buffer_pool: "2G".into(),
            server: "mariadb".into(),
            only: None,
            no_doc: false,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < argv.len() {
            let num = |j: usize| -> usize {
                argv.get(j).and_then(|v| v.replace('_', "").parse().ok()).unwrap_or_else(|| {
                    eprintln!("compare: {} needs a number", argv[i]);
                    std::process::exit(2)
                })
            };
            match argv[i].as_str() {
                "--rows" => a.rows = num(i + 1),
                "--reps" => a.reps = num(i + 1).max(1),
                "--contacts" => a.contacts = num(i + 1),
                "--loop-contacts" => a.loop_contacts = num(i + 1),
                "--writer-idle-secs" => a.writer_idle_secs = num(i + 1) as u64,
                "--buffer-pool" => {
                    a.buffer_pool = argv.get(i + 1).map(|v| v.trim().to_uppercase()).unwrap_or_default();
                    if !valid_size(&a.buffer_pool) {
                        eprintln!("compare: --buffer-pool takes a size such as 512M, 1G or 2G");
                        std::process::exit(2)
                    }
                }
                "--server" => {
                    a.server = argv.get(i + 1).cloned().unwrap_or_default();
                    if a.server != "mariadb" && a.server != "mysql" {
                        eprintln!("compare: --server takes mariadb or mysql");
                        std::process::exit(2)
                    }
                }
                "--no-doc" => {
                    a.no_doc = true;
                    i += 1;
                    continue;
                }
                "--only" => a.only = argv.get(i + 1).map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
                "--join-sizes" => {
                    a.join_sizes = argv
                        .get(i + 1)
                        .map(|v| v.split(',').filter_map(|s| s.trim().replace('_', "").parse().ok()).collect())
                        .unwrap_or_default()
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        a
    }

    fn wants(&self, section: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|s| s == section))
    }

    fn command_line(&self) -> String {
        let mut s = format!("cargo bench --bench compare -- --rows {}", self.rows);
        if self.server != "mariadb" {
            s += &format!(" --server {}", self.server);
        }
        if self.buffer_pool != "2G" {
            s += &format!(" --buffer-pool {}", self.buffer_pool);
        }
        if self.reps != 3 {
            s += &format!(" --reps {}", self.reps);
        }
        if self.contacts != 100_000 {
            s += &format!(" --contacts {}", self.contacts);
        }
        if self.loop_contacts != 5_000 {
            s += &format!(" --loop-contacts {}", self.loop_contacts);
        }
        if let Some(o) = &self.only {
            s += &format!(" --only {}", o.join(","));
        }
        if self.join_sizes != [5_000, 10_000, 20_000] {
            let j: Vec<String> = self.join_sizes.iter().map(|n| n.to_string()).collect();
            s += &format!(" --join-sizes {}", j.join(","));
        }
        s
    }
}

/// A server size: digits with an optional K, M or G (e.g. 1G, 512M).
fn valid_size(s: &str) -> bool {
    let digits = s.strip_suffix(['K', 'M', 'G']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits != "0"
}

// ---------------------------------------------------------------------------------------
// Results

/// One line of the summary.
#[derive(Clone, serde::Serialize)]
struct Row {
    section: String,
    contender: String,
    /// Seconds of each repetition (empty when the contender did not run).
    times: Vec<f64>,
    median_s: Option<f64>,
    /// Median divided by the median of the section's reference.
    ratio: Option<f64>,
    reference: Option<String>,
    target: Option<String>,
    met: Option<bool>,
    note: String,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(s[s.len() / 2])
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// A run of the seqfix binary: output, wall time, and the child's peak RSS from wait4.
struct SeqRun {
    code: i32,
    stdout: String,
    stderr: String,
    secs: f64,
    maxrss_kb: i64,
}

impl SeqRun {
    fn unavailable(&self) -> bool {
        self.code == 2 && self.stderr.contains("unrecognized subcommand")
    }

    fn json(&self) -> Option<Json> {
        serde_json::from_str(&self.stdout).ok()
    }

    fn problem(&self) -> Option<String> {
        if self.unavailable() {
            return Some(NOT_AVAILABLE.into());
        }
        if self.code != 0 {
            let line = self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Some(format!("exit {}: {}", self.code, line.chars().take(160).collect::<String>()));
        }
        None
    }
}

struct Bench {
    args: Args,
    server: Server,
    bin: PathBuf,
    rows: Vec<Row>,
    facts: BTreeMap<String, Json>,
    memory: Vec<(String, usize, Option<i64>, String)>,
}

fn conn(url: &str) -> Conn {
    let mut c = Conn::new(Opts::from_url(url).unwrap()).expect("connect to the bench server");
    c.query_drop("SET time_zone = '+00:00'").unwrap();
    c
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// Executes a query and fetches every row to the client; returns the row count.
fn fetch_all(c: &mut Conn, q: &str) -> u64 {
    let mut n = 0;
    for r in c.query_iter(q).unwrap() {
        r.unwrap();
        n += 1;
    }
    n
}

fn count(c: &mut Conn, q: &str) -> u64 {
    c.query_first::<u64, _>(q).unwrap().unwrap_or(0)
}

fn has_unique_index(c: &mut Conn) -> bool {
    let n: u64 = c
        .query_first(format!(
            "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name = '{TABLE}' AND index_name = 'unique_sequence_message' AND non_unique = 0"
        ))
        .unwrap()
        .unwrap_or(0);
    n == 3
}

/// The victims as the reference defines them, listed by the window query.
fn window_victims(c: &mut Conn) -> Vec<String> {
    c.query_drop(seqfix::sql::SESSION_TUNING).unwrap();
    c.query(WINDOW_QUERY).unwrap()
}

/// Placeholders for `ids` (each written as `mark`, e.g. `?` or `(?)`), comma-separated,
/// and the ids as parameters.
fn id_params(ids: &[String], mark: &str) -> (String, Vec<Value>) {
    (vec![mark; ids.len()].join(","), ids.iter().map(|s| Value::from(s.as_str())).collect())
}

/// `DELETE ... WHERE id IN (...)`, 1000 ids per statement, autocommit.
fn delete_ids(c: &mut Conn, ids: &[String]) {
    for chunk in ids.chunks(1000) {
        let (marks, params) = id_params(chunk, "?");
        c.exec_drop(format!("DELETE FROM {TABLE} WHERE id IN ({marks})"), params).unwrap();
    }
}

/// The figures of the scan from a seqfix JSON report's `scan` object (null when the build
/// reports none).
const SCAN_FIELDS: [&str; 6] =
    ["chunks", "rows_read", "candidate_rows", "lookups", "spill_bytes", "longest_statement_ms"];

fn scan_figures(report: &Json) -> Json {
    match report.get("scan") {
        Some(Json::Object(scan)) => Json::Object(
            SCAN_FIELDS.iter().map(|k| (k.to_string(), scan.get(*k).cloned().unwrap_or(Json::Null))).collect(),
        ),
        _ => Json::Null,
    }
}

/// Issue 21: no statement of the scan may run longer than this.
const LONGEST_STATEMENT_TARGET_MS: f64 = 2000.0;

/// The scan's figures of `audit_scan`/`dedupe_scan` as a line, and whether its longest
/// statement is within the target (None: not reported).
fn scan_line(facts: &BTreeMap<String, Json>, key: &str) -> (String, Option<bool>) {
    let Some(scan) = facts.get(key).filter(|v| v.is_object()) else {
        return (if facts.contains_key(key) { "not reported by this build" } else { "not run" }.into(), None);
    };
    let n = |k: &str| scan[k].as_f64().map(|v| format!("{v:.0}")).unwrap_or_else(|| "?".into());
    let longest = scan["longest_statement_ms"].as_f64();
    let line = format!(
        "{} chunks, {} rows read, {} candidate rows, {} lookups, {} bytes spilled, longest statement {}",
        n("chunks"),
        n("rows_read"),
        n("candidate_rows"),
        n("lookups"),
        n("spill_bytes"),
        longest.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "not reported by this build".into())
    );
    (line, longest.map(|ms| ms <= LONGEST_STATEMENT_TARGET_MS))
}

/// The first number in `v` whose dotted key path (e.g. `batch_times.p99_ms`) satisfies `pred`.
fn find_number(v: &Json, path: &str, pred: &dyn Fn(&str) -> bool) -> Option<f64> {
    let Json::Object(m) = v else { return None };
    for (k, x) in m {
        let p = if path.is_empty() { k.to_lowercase() } else { format!("{path}.{}", k.to_lowercase()) };
        if pred(&p) {
            if let Some(n) = x.as_f64() {
                return Some(n);
            }
        }
        if let Some(n) = find_number(x, &p, pred) {
            return Some(n);
        }
    }
    None
}

impl Bench {
    // The child is reaped by wait4 below (which also yields its peak RSS), not by Child::wait.
    #[allow(clippy::zombie_processes)]
    fn seqfix(&self, url: &str, args: &[&str]) -> SeqRun {
        let start = Instant::now();
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("DATABASE_URL", url)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the seqfix binary");
        let mut err = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        // Peak RSS from the child's own /proc/PID/status VmHWM, sampled until it exits.
        // (wait4's ru_maxrss is not usable alone: Linux carries the high-water mark across
        // fork and exec, so it can never be lower than this benchmark's own RSS at fork.)
        let hwm_pid = child.id();
        let hwm = std::thread::spawn(move || {
            let mut peak = 0i64;
            let path = format!("/proc/{hwm_pid}/status");
            while let Ok(status) = std::fs::read_to_string(&path) {
                if status.lines().any(|l| l.starts_with("State:") && l.contains("zombie")) {
                    break;
                }
                if let Some(kb) = status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<i64>().ok())
                {
                    peak = peak.max(kb);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        let mut stdout = String::new();
        let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
        let stderr = reader.join().unwrap();
        let mut status = 0;
        // SAFETY: plain wait4 on our own child; rusage is a plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = child.id() as libc::pid_t;
        unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        let secs = start.elapsed().as_secs_f64();
        let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
        let sampled = hwm.join().unwrap_or(0);
        // The sampled peak when there is one (runs shorter than a sample fall back to wait4).
        let maxrss_kb = if sampled > 0 { sampled } else { ru.ru_maxrss };
        SeqRun { code, stdout, stderr, secs, maxrss_kb }
    }

    fn push(&mut self, section: &str, contender: &str, times: Vec<f64>, note: impl Into<String>) {
        self.rows.push(Row {
            section: section.into(),
            contender: contender.into(),
            median_s: median(&times),
            times,
            ratio: None,
            reference: None,
            target: None,
            met: None,
            note: note.into(),
        });
    }

    /// Sets the ratio of `contender` to `reference` (both in `section`), and the verdict
    /// against `limit` when given.
    fn compare(&mut self, section: &str, contender: &str, reference: &str, limit: Option<f64>) {
        let r = self.rows.iter().find(|r| r.section == section && r.contender == reference).and_then(|r| r.median_s);
        if let Some(row) = self.rows.iter_mut().find(|r| r.section == section && r.contender == contender) {
            row.reference = Some(reference.into());
            if let (Some(m), Some(r)) = (row.median_s, r) {
                row.ratio = Some(m / r);
                if let Some(l) = limit {
                    row.met = Some(m / r <= l);
                }
            }
            if let Some(l) = limit {
                row.target = Some(format!("<= {l}x"));
            }
        }
    }

    fn fresh(&self, label: &str) -> TestDb {
        self.server.fresh_db(label)
    }

    /// A fresh database holding a copy of `src`'s messages table (same definition).
    fn copy_of(&self, src: &TestDb, label: &str) -> TestDb {
        let db = self.fresh(label);
        let mut c = conn(&db.url);
        c.query_drop(format!("CREATE TABLE {TABLE} LIKE `{}`.{TABLE}", src.name)).unwrap();
        skip_binlog(&mut c);
        c.query_drop(format!("INSERT INTO {TABLE} SELECT * FROM `{}`.{TABLE}", src.name)).unwrap();
        self.settle();
        db
    }

    /// Waits (at most two minutes) until InnoDB has written out the dirty pages of an
    /// untimed copy and purged its undo log, so that this background work is not charged
    /// to whichever contender runs next (at 1M rows it otherwise goes on for 15 s and stalls
    /// writers for tens of milliseconds at its checkpoints).
    fn settle(&self) {
        // (SHOW works on both servers; MySQL has no information_schema.GLOBAL_STATUS.)
        const DIRTY: &str = "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'";
        const HISTORY: &str = "SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'";
        let mut c = self.server.admin_conn();
        c.query_drop("SET GLOBAL innodb_max_dirty_pages_pct = 0").unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let dirty: u64 = c.query_first::<(String, u64), _>(DIRTY).unwrap().map_or(0, |(_, n)| n);
            let history: u64 = c.query_first(HISTORY).unwrap().unwrap_or(0);
            if (dirty < 100 && history < 1000) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        c.query_drop("SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT").unwrap();
    }

    /// A fresh database holding `rows` generated messages (and the other fixture tables,
    /// empty), loaded with the server's fast bulk path (`bulk_load`); the load's seconds.
    fn load(&self, label: &str, rows: usize, seed: u64) -> (TestDb, f64) {
        let (db, secs, _) = self.load_in_chunks(label, rows, seed, LOAD_CHUNK);
        (db, secs)
    }

    /// `load`, `chunk` rows per sorted run and per statement; also the loader's figures.
    fn load_in_chunks(&self, label: &str, rows: usize, seed: u64, chunk: usize) -> (TestDb, f64, Json) {
        let db = self.fresh(label);
        let (how, secs) = timed(|| {
            fixture::create_schema(&mut conn(&db.url)).unwrap();
            bulk_load(&db.url, rows, seed, chunk)
        });
        (db, secs, how)
    }

    /// Checks the fast loader against the project's own (`fixture::insert`, multi-row
    /// INSERTs in generation order) on `rows` rows: both tables must hold the same bytes in
    /// every column of every row.
    fn check_bulk_load(&self, rows: usize) -> Json {
        // Small runs, so that the check also covers the merge and several statements.
        let (fast, fast_secs, _) = self.load_in_chunks("load_check_fast", rows, SEED, rows / 3 + 1);
        let slow = self.fresh("load_check_insert");
        let (_, insert_secs) = timed(|| {
            let mut c = conn(&slow.url);
            fixture::create_schema(&mut c).unwrap();
            let table = seqfix::ident::Ident::new("table", TABLE).unwrap();
            fixture::insert(&mut c, &table, fixture::generate(&Spec::new(rows, SEED))).unwrap();
        });
        let (a, b) = (table_digest(&fast.url), table_digest(&slow.url));
        assert_eq!(a, b, "the bulk loader's table differs from fixture::insert's on {rows} rows");
        json!({"rows": rows, "digest": a, "bulk_secs": fast_secs, "insert_secs": insert_secs})
    }
}

/// The messages table's columns as `bulk_load` writes them (those `fixture::insert` sets,
/// with `updated_at` = `created_at` as there).
const LOAD_COLUMNS: &str = "id, user_id, device_id, campaign_id, sequence_id, recipient_phone, message_type, \
     content, media_url, status, error_message, scheduled_at, sent_at, created_at, updated_at, recipient_name, \
     sequence_stepid, processing_worker_id, device_name";
/// Rows per `LOAD DATA` statement (and per file).
const LOAD_CHUNK: usize = 1_000_000;

/// Appends `v` as one field of a `LOAD DATA` line (tab-separated, backslash escapes, NULL
/// as `\N`).
fn field(out: &mut Vec<u8>, v: Option<&str>) {
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
fn utc_datetime(t: i64) -> String {
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
fn load_line(out: &mut Vec<u8>, m: &fixture::Message) {
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
fn bulk_load(url: &str, rows: usize, seed: u64, chunk: usize) -> Json {
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
struct Merge {
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
fn skip_binlog(c: &mut Conn) {
    let _ = c.query_drop("SET sql_log_bin = 0");
}

/// A digest of every column of every messages row in primary-key order, with CHECKSUM
/// TABLE's figure: `rows:digest:checksum`.
fn table_digest(url: &str) -> String {
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

fn audit_section(b: &mut Bench, src: &TestDb, clean_indexed: Option<&TestDb>) {
    const S: &str = "1. audit";
    let reps = b.args.reps;
    let (mut seqfix_t, mut win_default, mut win_tuned, mut group_by) = (vec![], vec![], vec![], vec![]);
    let mut floor = vec![];
    let mut note = String::new();
    let mut rss = None;
    let mut surplus_window = 0;
    for _ in 0..reps {
        let run = b.seqfix(&src.url, &["audit", "--format", "json", "--no-progress"]);
        match run.problem() {
            Some(p) => note = p,
            None => {
                seqfix_t.push(run.secs);
                rss = Some(run.maxrss_kb);
                let j = run.json().unwrap_or_default();
                let surplus = j["surplus_rows"].as_u64().unwrap_or(0);
                b.facts.insert("audit_surplus_rows".into(), json!(surplus));
                b.facts.insert("audit_duplicate_groups".into(), j["duplicate_groups"].clone());
                b.facts.insert("audit_scan".into(), scan_figures(&j));
            }
        }
        floor.push(timed(|| fetch_all(&mut conn(&src.url), FLOOR_QUERY)).1);
        let mut c = conn(&src.url);
        let (n, t) = timed(|| fetch_all(&mut c, WINDOW_QUERY));
        surplus_window = n;
        win_default.push(t);
        let mut c = conn(&src.url);
        c.query_drop(seqfix::sql::SESSION_TUNING).unwrap();
        win_tuned.push(timed(|| fetch_all(&mut c, WINDOW_QUERY)).1);
        let mut c = conn(&src.url);
        group_by.push(timed(|| fetch_all(&mut c, GROUP_BY_QUERY)).1);
    }
    if let Some(s) = b.facts.get("audit_surplus_rows").and_then(|v| v.as_u64()) {
        if s != surplus_window {
            note = format!("surplus_rows {s} differs from the window query's {surplus_window}!");
        }
    }
    b.memory.push(("audit".into(), b.args.rows, rss, note.clone()));
    b.push(S, "seqfix audit (vs defaults)", seqfix_t, note);
    b.push(S, "window query, default session", win_default, "server defaults (tmp_table_size 16M)");
    b.push(S, "window query, 1 GiB temp tables", win_tuned, "sql/session_tuning.sql applied");
    b.push(S, "GROUP BY ... HAVING COUNT(*) > 1", group_by, "server defaults");
    b.push(S, FLOOR, floor, "every row sent to the client and discarded");
    b.compare(S, "seqfix audit (vs defaults)", "window query, default session", Some(1.2));
    b.compare(S, "window query, 1 GiB temp tables", "window query, default session", None);
    b.compare(S, "GROUP BY ... HAVING COUNT(*) > 1", "window query, default session", None);
    // The same audit against the session settings it uses itself: reported beside the
    // above, as a second row, so both ratios are visible.
    // Issue 21's targets: at most half the fastest window query, at most 1.5x the floor.
    let seq = b.rows.iter().find(|r| r.section == S && r.contender == "seqfix audit (vs defaults)").cloned();
    if let Some(r) = seq {
        let fastest = "seqfix audit (vs the 1 GiB temp tables, the fastest reference)";
        b.rows.push(Row {
            contender: fastest.into(),
            note: String::new(),
            ratio: None,
            target: None,
            met: None,
            ..r.clone()
        });
        b.compare(S, fastest, "window query, 1 GiB temp tables", Some(0.5));
        let vs_floor = "seqfix audit (vs the floor)";
        b.rows.push(Row { contender: vs_floor.into(), note: String::new(), ratio: None, target: None, met: None, ..r });
        b.compare(S, vs_floor, FLOOR, Some(1.5));
    }

    // With the unique index present (duplicates removed first): section `audit-index`.
    let Some(clean_indexed) = clean_indexed else { return };
    const SI: &str = "1b. audit, unique index present";
    let (mut seqfix_t, mut win, mut group_by) = (vec![], vec![], vec![]);
    let mut note = String::new();
    for _ in 0..reps {
        let run = b.seqfix(&clean_indexed.url, &["audit", "--format", "json", "--no-progress"]);
        match run.problem() {
            Some(p) => note = p,
            None => seqfix_t.push(run.secs),
        }
        let mut c = conn(&clean_indexed.url);
        c.query_drop(seqfix::sql::SESSION_TUNING).unwrap();
        win.push(timed(|| fetch_all(&mut c, WINDOW_QUERY)).1);
        let mut c = conn(&clean_indexed.url);
        group_by.push(timed(|| fetch_all(&mut c, GROUP_BY_QUERY)).1);
    }
    // Does every statement of the scan's walk read the primary key, without a sort? (The
    // first chunk and a later one; the trimmed weights do not change the plans. The
    // candidates' weights are computed from values and read no table.)
    let mut c = conn(&clean_indexed.url);
    let table = seqfix::ident::Ident::new("table", TABLE).unwrap();
    use seqfix::scan::weights::{Collations, Near, Padding};
    let pad = Padding { space_weight: vec![], pad_space: false };
    let collations = Collations { step: pad.clone(), device: pad.clone(), phone: pad, near: Near::default() };
    let some_id: String = c.query_first(format!("SELECT id FROM {TABLE} LIMIT 1")).unwrap().unwrap_or_default();
    let [first, later] =
        seqfix::scan::walk::statements(&table, true, &seqfix::sql::Fragment::sql("created_at"), &collations);
    let mut keys: Vec<String> = Vec::new();
    let mut sorts = false;
    for (q, params) in
        [(first, seqfix::scan::walk::params(None, 1000)), (later, seqfix::scan::walk::params(Some(&some_id), 1000))]
    {
        let explain = if b.args.server == "mysql" { "EXPLAIN FORMAT=TRADITIONAL" } else { "EXPLAIN" };
        let plan: Vec<mysql::Row> = c.exec(format!("{explain} {q}"), params).unwrap();
        for r in &plan {
            keys.push(r.get_opt::<Option<String>, _>("key").and_then(|k| k.ok()).flatten().unwrap_or("none".into()));
            let extra = r.get_opt::<Option<String>, _>("Extra").and_then(|k| k.ok()).flatten().unwrap_or_default();
            sorts |= extra.contains("filesort") || extra.contains("temporary");
        }
    }
    b.facts.insert("audit_walk_plan_keys".into(), json!(keys));
    let uses = keys.iter().all(|k| k == "PRIMARY") && !sorts;
    b.push(
        SI,
        "seqfix audit",
        seqfix_t,
        format!("{note}{}every scan statement reads the primary key, unsorted: {uses}", sep(&note)),
    );
    b.push(SI, "window query, 1 GiB temp tables", win, "");
    b.push(SI, "GROUP BY ... HAVING COUNT(*) > 1", group_by, "");
    b.compare(SI, "seqfix audit", "window query, 1 GiB temp tables", Some(1.2));
    b.compare(SI, "GROUP BY ... HAVING COUNT(*) > 1", "window query, 1 GiB temp tables", None);
}

fn sep(s: &str) -> &'static str {
    if s.is_empty() {
        ""
    } else {
        "; "
    }
}

/// The bare minimum dedupe on `url`: list victims, delete them 1000 per statement.
fn bare_dedupe(url: &str) -> usize {
    let mut c = conn(url);
    let victims = window_victims(&mut c);
    delete_ids(&mut c, &victims);
    victims.len()
}

/// The least a dedupe that archives must do: per 1,000 victims one transaction that locks
/// them, copies them into `bare_archive` (created beforehand, `LIKE` the table) and deletes
/// them. No kept-row check, no ledger; for the impact section's comparison.
fn archive_ids(c: &mut Conn, ids: &[String]) {
    for chunk in ids.chunks(1000) {
        let (marks, params) = id_params(chunk, "?");
        let mut tx = c.start_transaction(TxOpts::default()).unwrap();
        let _: Vec<String> =
            tx.exec(format!("SELECT id FROM {TABLE} WHERE id IN ({marks}) FOR UPDATE"), params.clone()).unwrap();
        tx.exec_drop(format!("INSERT INTO bare_archive SELECT * FROM {TABLE} WHERE id IN ({marks})"), params.clone())
            .unwrap();
        tx.exec_drop(format!("DELETE FROM {TABLE} WHERE id IN ({marks})"), params).unwrap();
        tx.commit().unwrap();
    }
}

/// pt-archiver given the victim list, as a DBA would script it: the window query's victims
/// loaded into `pt_victims`, then pt-archiver walks the table in primary-key order, 1,000
/// rows a chunk (`--where "id IN (SELECT id FROM pt_victims)"`), copies each victim into
/// `pt_archive` (created `LIKE` the table) and deletes each chunk in one statement
/// (`--bulk-delete`), committing every 1,000 rows. All of it is timed. The rows archived,
/// or what went wrong.
fn pt_archiver_dedupe(url: &str) -> Result<u64, String> {
    let mut c = conn(url);
    let victims = window_victims(&mut c);
    c.query_drop(format!(
        "CREATE TABLE pt_victims (id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY); \
         CREATE TABLE pt_archive LIKE {TABLE}"
    ))
    .unwrap();
    for chunk in victims.chunks(1000) {
        let (marks, params) = id_params(chunk, "(?)");
        c.exec_drop(format!("INSERT INTO pt_victims (id) VALUES {marks}"), params).unwrap();
    }
    let o = Opts::from_url(url).unwrap();
    let dsn = format!(
        "h={},P={},u={},p={},D={},t={TABLE},A=utf8mb4",
        o.get_ip_or_hostname(),
        o.get_tcp_port(),
        o.get_user().unwrap_or("root"),
        o.get_pass().unwrap_or(""),
        o.get_db_name().unwrap_or(""),
    );
    let out = Command::new("pt-archiver")
        .args(["--source", &dsn, "--dest", "t=pt_archive", "--where", "id IN (SELECT id FROM pt_victims)"])
        .args(["--limit", "1000", "--txn-size", "1000", "--bulk-delete", "--no-safe-auto-increment"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pt-archiver: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("pt-archiver failed: {}", err.lines().next().unwrap_or("")));
    }
    Ok(count(&mut c, "SELECT COUNT(*) FROM pt_archive"))
}

fn dedupe_args() -> Vec<&'static str> {
    vec!["dedupe", "--yes", "--no-progress", "--format", "json", "--batch-size", "1000"]
}

fn dedupe_section(b: &mut Bench, src: &TestDb) {
    const S: &str = "2. dedupe";
    let expected = b.facts.get("window_surplus_rows").and_then(|v| v.as_u64()).unwrap_or(0);
    let (mut seqfix_t, mut bare_t, mut pt_t, mut floor) = (vec![], vec![], vec![], vec![]);
    let pt_installed = which("pt-archiver").is_some();
    let mut pt_failed = false;
    let mut pt_note = if pt_installed {
        "given the window query's victims (their listing timed too): walks the table by primary key, \
         archives to a table, --bulk-delete, commits every 1000 rows"
            .to_string()
    } else {
        "skipped: pt-archiver is not installed (Debian: apt-get install percona-toolkit)".to_string()
    };
    let mut note = String::new();
    let mut batch = json!(null);
    let mut rss = None;
    let mut available = true;
    for rep in 0..b.args.reps {
        if available {
            let db = b.copy_of(src, &format!("dedupe_seqfix_{rep}"));
            let run = b.seqfix(&db.url, &dedupe_args());
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    rss = Some(run.maxrss_kb);
                    let j = run.json().unwrap_or_default();
                    let deleted = j["deleted_rows"].as_u64().unwrap_or(u64::MAX);
                    let left = count(&mut conn(&db.url), COUNT_GROUPS);
                    if deleted != expected || left != 0 {
                        note = format!("deleted {deleted} of {expected} surplus rows, {left} groups left!");
                    }
                    b.facts.insert("dedupe_scan".into(), scan_figures(&j));
                    batch = json!({
                        "p50_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("p50")),
                        "p99_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("p99")),
                        "max_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("max")),
                        "batches": j.get("batches").cloned(),
                    });
                }
            }
        }
        floor.push(timed(|| fetch_all(&mut conn(&src.url), FLOOR_QUERY)).1);
        let db = b.copy_of(src, &format!("dedupe_bare_{rep}"));
        let (n, t) = timed(|| bare_dedupe(&db.url));
        assert_eq!(n as u64, expected, "the bare dedupe deleted a different number of rows");
        bare_t.push(t);
        drop(db);
        if pt_installed && !pt_failed {
            let db = b.copy_of(src, &format!("dedupe_pt_archiver_{rep}"));
            match timed(|| pt_archiver_dedupe(&db.url)) {
                (Ok(n), t) => {
                    let left = count(&mut conn(&db.url), COUNT_GROUPS);
                    if n != expected || left != 0 {
                        pt_note = format!("archived {n} of {expected} surplus rows, {left} groups left!");
                    }
                    pt_t.push(t);
                }
                (Err(e), _) => {
                    pt_note = e;
                    pt_failed = true;
                }
            }
        }
    }
    b.facts.insert("dedupe_batches".into(), batch);
    b.memory.push(("dedupe".into(), b.args.rows, rss, note.clone()));
    b.push(S, "seqfix dedupe (archive, ledger, batches of 1000)", seqfix_t, note);
    b.push(S, "bare minimum (window query + DELETE IN 1000 ids)", bare_t, "no archive, no ledger");
    // Issue 21's target: at most 0.6x the bare minimum (whose deletes are not in key order).
    b.compare(
        S,
        "seqfix dedupe (archive, ledger, batches of 1000)",
        "bare minimum (window query + DELETE IN 1000 ids)",
        Some(0.6),
    );
    b.push(S, FLOOR, floor, "on the source table; every row sent to the client and discarded");
    let seq = b.rows.iter().find(|r| r.section == S && r.contender.starts_with("seqfix dedupe")).cloned();
    if let Some(r) = seq {
        let vs_floor = "seqfix dedupe (vs the floor)";
        b.rows.push(Row { contender: vs_floor.into(), note: String::new(), ratio: None, target: None, met: None, ..r });
        b.compare(S, vs_floor, FLOOR, None);
    }
    b.compare(S, "bare minimum (window query + DELETE IN 1000 ids)", FLOOR, None);
    b.push(S, "pt-archiver", pt_t, pt_note);
    b.compare(S, "pt-archiver", "bare minimum (window query + DELETE IN 1000 ids)", None);
}

/// The original DELETE ... JOIN grows quadratically: small tables only, one run each.
fn join_section(b: &mut Bench) {
    const SJ: &str = "2b. original DELETE ... JOIN (one run per size)";
    for &n in &b.args.join_sizes.clone() {
        let (small, _) = b.load(&format!("join_src_{n}"), n, SEED);
        let mut c = conn(&small.url);
        let before = count(&mut c, COUNT_GROUPS);
        let db = b.copy_of(&small, &format!("join_orig_{n}"));
        let mut c = conn(&db.url);
        let t = timed(|| c.query_drop(ORIGINAL_DELETE).unwrap()).1;
        let left = count(&mut c, COUNT_GROUPS);
        let bare_db = b.copy_of(&small, &format!("join_bare_{n}"));
        let bare = timed(|| bare_dedupe(&bare_db.url)).1;
        b.push(SJ, &format!("bare minimum @ {n} rows"), vec![bare], "");
        b.push(
            SJ,
            &format!("original DELETE JOIN @ {n} rows"),
            vec![t],
            format!("left {left} of {before} duplicate groups behind"),
        );
        b.compare(SJ, &format!("original DELETE JOIN @ {n} rows"), &format!("bare minimum @ {n} rows"), None);
        b.facts
            .insert(format!("original_delete_{n}"), json!({"secs": t, "groups_before": before, "groups_left": left}));
        let db = b.copy_of(&small, &format!("join_seqfix_{n}"));
        let run = b.seqfix(&db.url, &dedupe_args());
        let note = run.problem().unwrap_or_else(|| {
            let left = count(&mut conn(&db.url), COUNT_GROUPS);
            format!("left {left} duplicate groups behind")
        });
        let times = if run.problem().is_none() { vec![run.secs] } else { vec![] };
        b.push(SJ, &format!("seqfix dedupe @ {n} rows"), times, note);
        b.compare(SJ, &format!("seqfix dedupe @ {n} rows"), &format!("bare minimum @ {n} rows"), None);
    }
}

fn migrate_section(b: &mut Bench, clean: &TestDb) {
    const S: &str = "3. migrate";
    let (mut seqfix_t, mut bare_t) = (vec![], vec![]);
    let mut note = String::new();
    let mut available = true;
    for rep in 0..b.args.reps {
        if available {
            let db = b.copy_of(clean, &format!("migrate_seqfix_{rep}"));
            let run = b.seqfix(&db.url, &["migrate", "--format", "json", "--no-progress"]);
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    if !has_unique_index(&mut conn(&db.url)) {
                        note = "the unique index is missing after migrate!".into();
                    }
                }
            }
        }
        let db = b.copy_of(clean, &format!("migrate_bare_{rep}"));
        let mut c = conn(&db.url);
        bare_t.push(timed(|| c.query_drop(BARE_ALTER).unwrap()).1);
    }
    b.push(S, "seqfix migrate (preflight + online build)", seqfix_t, note);
    b.push(S, "bare ALTER TABLE ... ADD UNIQUE INDEX", bare_t, "on the deduplicated copy");
    b.compare(S, "seqfix migrate (preflight + online build)", "bare ALTER TABLE ... ADD UNIQUE INDEX", Some(1.2));
}

// ---------------------------------------------------------------------------------------
// process

/// A deterministic id in UUID layout: kind (table) and number.
fn sql_id(kind: u32, expr: &str) -> String {
    format!("CONCAT('00000000-0000-0000-{kind:04}-', LPAD({expr}, 12, '0'))")
}

const SEQUENCES: usize = 50;
const USERS: usize = 20;

/// A database with `n` due contacts: 50 active sequences of 7 daily steps owned by 20
/// users with one connected device each, one lead per phone (no index on phone, as in
/// production), every contact at step 0 with no next trigger time; the messages table is
/// empty and carries the unique index (`seqfix process` requires it).
fn contacts_db(b: &Bench, label: &str, n: usize) -> TestDb {
    let db = b.fresh(label);
    let mut c = conn(&db.url);
    fixture::create_schema(&mut c).unwrap();
    c.query_drop(BARE_ALTER).unwrap();
    // 1..=n (MariaDB's seq_1_to_N tables do not exist on MySQL).
    c.query_drop("CREATE TABLE bench_numbers (seq INT NOT NULL PRIMARY KEY)").unwrap();
    let top = n.max(SEQUENCES).max(USERS).max(7);
    for start in (1..=top).step_by(10_000) {
        let values: Vec<String> = (start..=(start + 9_999).min(top)).map(|i| format!("({i})")).collect();
        c.query_drop(format!("INSERT INTO bench_numbers VALUES {}", values.join(","))).unwrap();
    }
    let user = |e: &str| sql_id(2, e);
    let stmts = [
        format!(
            "INSERT INTO user_devices (id, user_id, device_name, status) SELECT {}, {}, CONCAT('device-', seq), \
             'connected' FROM bench_numbers WHERE seq <= {USERS}",
            sql_id(3, "seq"),
            user("seq")
        ),
        format!(
            "INSERT INTO sequences (id, user_id, name, status, total_days, is_active) SELECT {}, {}, \
             CONCAT('sequence ', seq), 'active', 7, 1 FROM bench_numbers WHERE seq <= {SEQUENCES}",
            sql_id(1, "seq"),
            user(&format!("1 + seq % {USERS}"))
        ),
        format!(
            "INSERT INTO sequence_steps (id, sequence_id, day_number, message_type, content) SELECT {}, {}, d.seq, \
             'text', CONCAT('Day ', d.seq, ' of sequence ', s.seq) FROM bench_numbers s \
             JOIN bench_numbers d WHERE s.seq <= {SEQUENCES} AND d.seq <= 7",
            sql_id(5, "s.seq * 10 + d.seq"),
            sql_id(1, "s.seq")
        ),
        // Contact i is in sequence 1 + i % 50, whose user is 1 + (1 + i % 50) % 20.
        format!(
            "INSERT INTO leads (device_id, user_id, name, phone) SELECT {}, {}, CONCAT('Lead ', seq), \
             CONCAT('601', LPAD(seq, 8, '0')) FROM bench_numbers WHERE seq <= {n}",
            sql_id(3, &format!("1 + (1 + seq % {SEQUENCES}) % {USERS}")),
            user(&format!("1 + (1 + seq % {SEQUENCES}) % {USERS}"))
        ),
        format!(
            "INSERT INTO sequence_contacts (id, sequence_id, contact_phone, contact_name, current_step, status, \
             next_trigger_time) SELECT {}, {}, CONCAT('601', LPAD(seq, 8, '0')), CONCAT('Contact ', seq), 0, \
             'active', NULL FROM bench_numbers WHERE seq <= {n}",
            sql_id(4, "seq"),
            sql_id(1, &format!("1 + seq % {SEQUENCES}"))
        ),
    ];
    for s in stmts {
        c.query_drop(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
    }
    // Fresh statistics, so that every contender gets the same plans.
    for t in ["user_devices", "sequences", "sequence_steps", "leads", "sequence_contacts", TABLE] {
        let _: Vec<mysql::Row> = c.query(format!("ANALYZE TABLE {t}")).unwrap();
    }
    db
}

/// The set-based reference pass in plain SQL, in one transaction: the due contacts with
/// their step, lead (smallest id per phone and user) and device, then
/// `INSERT ... SELECT` messages, `UPDATE ... JOIN` contacts, `INSERT ... SELECT` logs.
fn set_based_pass(url: &str) {
    let mut c = conn(url);
    // Steps and leads have no index on the columns looked up (as in production): key them
    // once in temporary tables, so that every contact costs a few primary-key lookups.
    c.query_drop(
        "CREATE TEMPORARY TABLE step_of (PRIMARY KEY (sequence_id, day_number)) ENGINE=InnoDB AS \
         SELECT sequence_id, day_number, MIN(id) AS id FROM sequence_steps GROUP BY sequence_id, day_number",
    )
    .unwrap();
    c.query_drop(
        "CREATE TEMPORARY TABLE first_lead (PRIMARY KEY (phone, user_id)) ENGINE=InnoDB AS \
         SELECT phone, user_id, MIN(id) AS id FROM leads GROUP BY phone, user_id",
    )
    .unwrap();
    let due = "CREATE TEMPORARY TABLE due ENGINE=InnoDB AS \
        SELECT c.id AS contact_id, c.sequence_id, s.user_id, d.id AS device_id, st.id AS step_id, \
               st.message_type, st.content, st.media_url, c.contact_phone, c.contact_name, \
               c.current_step + 1 AS day, UUID() AS message_id \
        FROM sequence_contacts c \
        JOIN sequences s ON s.id = c.sequence_id AND s.is_active = 1 AND s.status = 'active' \
        JOIN step_of so ON so.sequence_id = s.id AND so.day_number = c.current_step + 1 \
        JOIN sequence_steps st ON st.id = so.id \
        JOIN first_lead fl ON fl.phone = c.contact_phone AND fl.user_id = s.user_id \
        JOIN leads l ON l.id = fl.id \
        JOIN user_devices d ON d.id = l.device_id AND d.user_id = s.user_id AND d.status IN ('connected', 'online') \
        WHERE c.status = 'active' AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW()) \
          AND c.current_step + 1 <= s.total_days";
    c.query_drop(due).unwrap();
    c.query_drop("START TRANSACTION").unwrap();
    c.query_drop(
        "INSERT IGNORE INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, \
         recipient_phone, recipient_name, message_type, content, media_url, status, scheduled_at, created_at) \
         SELECT message_id, user_id, device_id, sequence_id, step_id, contact_phone, contact_name, message_type, \
         content, media_url, 'pending', NOW(), NOW() FROM due",
    )
    .unwrap();
    c.query_drop(
        "UPDATE sequence_contacts c JOIN due ON due.contact_id = c.id \
         SET c.current_step = due.day, c.next_trigger_time = NOW() + INTERVAL 24 HOUR",
    )
    .unwrap();
    c.query_drop(
        "INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status, message_id) \
         SELECT UUID(), sequence_id, contact_id, step_id, day, 'queued', message_id FROM due",
    )
    .unwrap();
    c.query_drop(
        "UPDATE sequence_contacts c JOIN sequences s ON s.id = c.sequence_id \
         SET c.status = 'completed', c.completed_at = NOW() \
         WHERE c.status = 'active' AND s.is_active = 1 AND s.status = 'active' AND c.current_step + 1 > s.total_days \
           AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW())",
    )
    .unwrap();
    c.query_drop("COMMIT").unwrap();
}

/// The application's loop, one statement per lookup and per write, autocommit.
fn per_contact_pass(url: &str) {
    let mut c = conn(url);
    let due: Vec<(String, String, String, String, i32)> = c
        .query(
            "SELECT c.id, c.sequence_id, c.contact_phone, c.contact_name, c.current_step FROM sequence_contacts c \
             JOIN sequences s ON s.id = c.sequence_id WHERE s.is_active = 1 AND s.status = 'active' AND c.status = 'active' \
             AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW())",
        )
        .unwrap();
    for (contact, seq, phone, name, step) in due {
        let next = step + 1;
        let (user, total): (String, i32) =
            c.exec_first("SELECT user_id, total_days FROM sequences WHERE id = ?", (&seq,)).unwrap().unwrap();
        if next > total {
            c.exec_drop(
                "UPDATE sequence_contacts SET status = 'completed', completed_at = NOW() WHERE id = ?",
                (&contact,),
            )
            .unwrap();
            continue;
        }
        let Some((step_id, mtype, content)): Option<(String, String, Option<String>)> = c
            .exec_first(
                "SELECT id, message_type, content FROM sequence_steps WHERE sequence_id = ? AND day_number = ?",
                (&seq, next),
            )
            .unwrap()
        else {
            continue;
        };
        let Some(device): Option<String> = c
            .exec_first(
                "SELECT device_id FROM leads WHERE phone = ? AND user_id = ? ORDER BY id LIMIT 1",
                (&phone, &user),
            )
            .unwrap()
        else {
            continue;
        };
        let ok: Option<String> = c
            .exec_first(
                "SELECT id FROM user_devices WHERE id = ? AND user_id = ? AND status IN ('connected', 'online')",
                (&device, &user),
            )
            .unwrap();
        if ok.is_none() {
            continue;
        }
        let exists: u64 = c
            .exec_first(
                "SELECT COUNT(*) FROM broadcast_messages WHERE sequence_stepid = ? AND recipient_phone = ? \
                 AND device_id = ? AND status IN ('pending', 'sent', 'queued', 'processing')",
                (&step_id, &phone, &device),
            )
            .unwrap()
            .unwrap_or(0);
        let id = uuid::Uuid::new_v4().to_string();
        if exists == 0 {
            c.exec_drop(
                "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, \
                 recipient_name, message_type, content, status, scheduled_at, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NOW(), NOW())",
                (&id, &user, &device, &seq, &step_id, &phone, &name, &mtype, &content),
            )
            .unwrap();
        }
        c.exec_drop(
            "UPDATE sequence_contacts SET current_step = ?, next_trigger_time = NOW() + INTERVAL 24 HOUR WHERE id = ?",
            (next, &contact),
        )
        .unwrap();
        c.exec_drop(
            "INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status, message_id) \
             VALUES (UUID(), ?, ?, ?, ?, 'queued', ?)",
            (&seq, &contact, &step_id, next, &id),
        )
        .unwrap();
    }
}

fn process_args() -> Vec<&'static str> {
    vec!["process", "--format", "json", "--no-progress", "--min-interval", "0s", "--batch-size", "500"]
}

fn check_queued(url: &str, n: usize) -> Option<String> {
    let mut c = conn(url);
    let msgs = count(&mut c, "SELECT COUNT(*) FROM broadcast_messages");
    let advanced = count(&mut c, "SELECT COUNT(*) FROM sequence_contacts WHERE current_step = 1");
    let logs = count(&mut c, "SELECT COUNT(*) FROM sequence_logs");
    if msgs as usize != n || advanced as usize != n || logs as usize != n {
        Some(format!("expected {n} messages/contacts/logs, found {msgs}/{advanced}/{logs}!"))
    } else {
        None
    }
}

fn process_section(b: &mut Bench) {
    const S: &str = "4. process";
    let n = b.args.contacts;
    let (mut seqfix_t, mut set_t) = (vec![], vec![]);
    let mut note = String::new();
    let mut available = true;
    let mut rss = None;
    for rep in 0..b.args.reps {
        if available {
            let db = contacts_db(b, &format!("process_seqfix_{rep}"), n);
            let run = b.seqfix(&db.url, &process_args());
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    rss = Some(run.maxrss_kb);
                    if let Some(p) = check_queued(&db.url, n) {
                        note = p;
                    }
                }
            }
        }
        let db = contacts_db(b, &format!("process_set_{rep}"), n);
        set_t.push(timed(|| set_based_pass(&db.url)).1);
        if let Some(p) = check_queued(&db.url, n) {
            panic!("set-based reference: {p}");
        }
    }
    b.memory.push(("process".into(), n, rss, note.clone()));
    let seq_name = format!("seqfix process @ {n} contacts");
    let set_name = format!("set-based SQL @ {n} contacts");
    b.push(S, &seq_name, seqfix_t, note);
    b.push(S, &set_name, set_t, "INSERT ... SELECT + UPDATE ... JOIN + INSERT ... SELECT, one transaction; steps and first leads keyed in temporary tables");
    b.compare(S, &seq_name, &set_name, Some(2.0));

    // The per-contact loop, at a size it survives; one run of each contender.
    let m = b.args.loop_contacts;
    let db = contacts_db(b, "process_loop", m);
    let t_loop = timed(|| per_contact_pass(&db.url)).1;
    if let Some(p) = check_queued(&db.url, m) {
        panic!("per-contact reference: {p}");
    }
    let db = contacts_db(b, "process_set_small", m);
    let t_set = timed(|| set_based_pass(&db.url)).1;
    let db = contacts_db(b, "process_seqfix_small", m);
    let run = b.seqfix(&db.url, &process_args());
    let (times, note) = match run.problem() {
        Some(p) => (vec![], p),
        None => (vec![run.secs], check_queued(&db.url, m).unwrap_or_default()),
    };
    if run.problem().is_none() {
        b.memory.push(("process".into(), m, Some(run.maxrss_kb), String::new()));
    }
    const SL: &str = "4b. process, per-contact loop (one run each)";
    let set_small = format!("set-based SQL @ {m} contacts");
    b.push(SL, &set_small, vec![t_set], "");
    b.push(SL, &format!("per-contact loop @ {m} contacts"), vec![t_loop], "one statement per lookup, autocommit");
    b.push(SL, &format!("seqfix process @ {m} contacts"), times, note);
    b.compare(SL, &format!("per-contact loop @ {m} contacts"), &set_small, None);
    b.compare(SL, &format!("seqfix process @ {m} contacts"), &set_small, None);
}

// ---------------------------------------------------------------------------------------
// Impact on the live application

/// When each single-row autocommit insert started and its latency (ms); one every 5 ms.
type Samples = Vec<(Instant, f64)>;

/// Inserts one row every 5 ms until `stop`, timing each.
fn writer(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Samples> {
    writer_that(url, stop, false)
}

/// `writer`; with `sends`, each insert is followed by an autocommit `UPDATE` marking the
/// row inserted ten steps before as sent, as the application's sender does. (Updates leave
/// undo logs for purge on every server; MySQL discards an insert's at commit.)
fn writer_that(url: String, stop: Arc<AtomicBool>, sends: bool) -> std::thread::JoinHandle<Samples> {
    std::thread::spawn(move || {
        let mut c = conn(&url);
        let stmt = c
            .prep(
                "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, \
                 recipient_phone, message_type, content, status, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, 'text', 'live insert', 'pending', NOW())",
            )
            .unwrap();
        let sent = c.prep("UPDATE broadcast_messages SET status = 'sent', sent_at = NOW() WHERE id = ?").unwrap();
        let mut lat = Vec::new();
        let mut recent = std::collections::VecDeque::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let id = uuid::Uuid::new_v4().to_string();
            let step = uuid::Uuid::new_v4().to_string();
            let t = Instant::now();
            let r = c.exec_drop(&stmt, (&id, &id, &id, &id, &step, format!("609{i:08}")));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if r.is_ok() {
                lat.push((t, ms));
            }
            if sends {
                recent.push_back(id);
                if recent.len() > 10 {
                    let _ = c.exec_drop(&sent, (recent.pop_front().unwrap(),));
                }
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        lat
    })
}

/// Latencies (ms) of the samples that started within [from, to).
fn window(samples: &Samples, from: Instant, to: Instant) -> Vec<f64> {
    samples.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, ms)| *ms).collect()
}

fn latency_stats(mut v: Vec<f64>) -> Json {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let over_1ms = v.iter().filter(|ms| **ms > 1.0).count();
    json!({"inserts": v.len(), "p50_ms": percentile(&v, 50.0), "p99_ms": percentile(&v, 99.0),
           "max_ms": v.last().copied().unwrap_or(f64::NAN),
           "over_1ms_pct": if v.is_empty() { f64::NAN } else { 100.0 * over_1ms as f64 / v.len() as f64 }})
}

/// Runs `work` while the writer inserts into `url`'s messages table; the latencies of the
/// inserts made while `work` ran, and all the samples (for figures by phase).
fn with_writer(url: &str, work: impl FnOnce()) -> (Vec<f64>, Samples) {
    let stop = Arc::new(AtomicBool::new(false));
    let h = writer(url.to_string(), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    work();
    let ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let samples = h.join().unwrap();
    (window(&samples, started, ended), samples)
}

/// One bare-minimum dedupe of a fresh copy of `src` under the writer (`archive`: each
/// batch of 1,000 victims locked, copied into `bare_archive` and deleted in one
/// transaction; otherwise only deleted): the writer's latencies during all of it, during
/// its window query, and during its batches.
fn bare_round(b: &Bench, src: &TestDb, label: &str, archive: bool) -> [Vec<f64>; 3] {
    let db = b.copy_of(src, label);
    if archive {
        conn(&db.url).query_drop(format!("CREATE TABLE bare_archive LIKE {TABLE}")).unwrap();
    }
    let mut marks = None;
    let (during, samples) = with_writer(&db.url, || {
        let mut c = conn(&db.url);
        let started = Instant::now();
        let victims = window_victims(&mut c);
        let listed = Instant::now();
        if archive {
            archive_ids(&mut c, &victims);
        } else {
            delete_ids(&mut c, &victims);
        }
        marks = Some((started, listed, Instant::now()));
    });
    let (from, mid, to) = marks.expect("the bare round ran");
    [during, window(&samples, from, mid), window(&samples, mid, to)]
}

/// The writer's latencies, pooled over `--reps` rounds: a p99 from one run of a few
/// seconds (about a thousand inserts) is its tenth-slowest insert, and moves by half
/// between runs on a shared machine. Each round measures the idle server, seqfix dedupe,
/// the bare minimum and the bare minimum that archives one after the other, each on a
/// fresh copy, so that background noise hits them alike.
fn impact_section(b: &mut Bench, src: &TestDb, clean: &TestDb) {
    let idle_secs = b.args.writer_idle_secs;
    let (mut idle, mut during_dedupe, mut dedupe_scan, mut dedupe_batches) = (vec![], vec![], vec![], vec![]);
    // [during all of it, during its window query, during its batches]
    let (mut bare, mut archiving): ([Vec<f64>; 3], [Vec<f64>; 3]) = Default::default();
    let mut what = "seqfix dedupe".to_string();
    let mut run_note = String::new();
    for rep in 0..b.args.reps {
        let db = b.copy_of(src, &format!("impact_idle_{rep}"));
        idle.extend(with_writer(&db.url, || std::thread::sleep(Duration::from_secs(idle_secs))).0);
        drop(db);

        // seqfix dedupe, and the writer's figures in its two phases: the scan and the
        // batches (scan_ms from its report marks the boundary).
        let db = b.copy_of(src, &format!("impact_dedupe_{rep}"));
        let mut phases = None;
        let (during, samples) = with_writer(&db.url, || {
            let started = Instant::now();
            let run = b.seqfix(&db.url, &dedupe_args());
            if run.unavailable() {
                what = format!("bare minimum dedupe (seqfix dedupe {NOT_AVAILABLE})");
                bare_dedupe(&db.url);
            } else if let Some(p) = run.problem() {
                run_note = p;
            } else if let Some(scan_ms) = run.json().and_then(|j| j["scan_ms"].as_u64()) {
                phases = Some((started, started + Duration::from_millis(scan_ms), Instant::now()));
            }
        });
        during_dedupe.extend(during);
        if let Some((from, mid, to)) = phases {
            dedupe_scan.extend(window(&samples, from, mid));
            dedupe_batches.extend(window(&samples, mid, to));
        }
        drop(db);

        // The bare minimum under the same writer: how much of the impact is any dedupe's;
        // then the same with the archive copy every dedupe that loses nothing must make.
        for (pooled, run) in bare.iter_mut().zip(bare_round(b, src, &format!("impact_bare_{rep}"), false)) {
            pooled.extend(run);
        }
        for (pooled, run) in archiving.iter_mut().zip(bare_round(b, src, &format!("impact_archiving_{rep}"), true)) {
            pooled.extend(run);
        }
    }
    let (idle, during_dedupe) = (latency_stats(idle), latency_stats(during_dedupe));
    let phase = |v: Vec<f64>| if v.is_empty() { json!(null) } else { latency_stats(v) };
    let (dedupe_scan, dedupe_batches) = (phase(dedupe_scan), phase(dedupe_batches));
    let [during_bare, bare_query, bare_deletes] = bare.map(latency_stats);
    let [during_archiving, archiving_query, archiving_batches] = archiving.map(latency_stats);

    let db = b.copy_of(clean, "impact_migrate");
    let mut what_m = "seqfix migrate".to_string();
    let (during_migrate, _) = with_writer(&db.url, || {
        let run = b.seqfix(&db.url, &["migrate", "--format", "json", "--no-progress"]);
        if run.unavailable() {
            what_m = format!("bare ALTER (seqfix migrate {NOT_AVAILABLE})");
            conn(&db.url).query_drop(BARE_ALTER).unwrap();
        }
    });
    let during_migrate = latency_stats(during_migrate);
    let idle_p99 = idle["p99_ms"].as_f64().unwrap_or(f64::NAN);
    let dedupe_p99 = during_dedupe["p99_ms"].as_f64().unwrap_or(f64::NAN);
    let met = if what == "seqfix dedupe" && run_note.is_empty() { Some(dedupe_p99 <= 2.0 * idle_p99) } else { None };
    b.facts.insert(
        "writer".into(),
        json!({
            "idle": idle, "during_dedupe": during_dedupe, "during_dedupe_of": what, "dedupe_problem": run_note,
            "during_dedupe_scan": dedupe_scan, "during_dedupe_batches": dedupe_batches,
            "during_bare": during_bare, "during_bare_query": bare_query, "during_bare_deletes": bare_deletes,
            "during_archiving": during_archiving, "during_archiving_query": archiving_query,
            "during_archiving_batches": archiving_batches,
            "during_migrate": during_migrate, "during_migrate_of": what_m, "rounds": b.args.reps,
            "p99_ratio_dedupe_vs_idle": dedupe_p99 / idle_p99, "target_met": met,
        }),
    );
}

// ---------------------------------------------------------------------------------------
// Memory at two sizes

fn memory_section(b: &mut Bench) {
    let small = if b.args.rows > 100_000 { 100_000 } else { (b.args.rows / 10).max(10_000) };
    let (src, _) = b.load("memory_small", small, SEED);
    let run = b.seqfix(&src.url, &["audit", "--format", "json", "--no-progress"]);
    let p = run.problem();
    b.memory.push(("audit".into(), small, p.is_none().then_some(run.maxrss_kb), p.unwrap_or_default()));
    let run = b.seqfix(&src.url, &dedupe_args());
    let p = run.problem();
    b.memory.push(("dedupe".into(), small, p.is_none().then_some(run.maxrss_kb), p.unwrap_or_default()));
}

// ---------------------------------------------------------------------------------------
// The history list during a scan

const HISTORY_LEN: &str = "SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'";

/// Samples InnoDB's history list length (transactions committed whose undo logs purge has
/// not yet removed) every 200 ms until `stop`.
fn history_sampler(mut c: Conn, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut v = vec![];
        while !stop.load(Ordering::Relaxed) {
            v.push(c.query_first(HISTORY_LEN).unwrap().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(200));
        }
        v
    })
}

/// Runs `work` while a sending writer (`writer_that`, sends) works on `url`'s messages
/// table and the history list is sampled; the samples.
fn history_during(b: &Bench, url: &str, work: impl FnOnce()) -> Vec<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer_that(url.to_string(), stop.clone(), true);
    std::thread::sleep(Duration::from_millis(300));
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let sampler = history_sampler(b.server.admin_conn(), sampler_stop.clone());
    work();
    sampler_stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    samples
}

fn history_stats(v: &[u64]) -> Json {
    let mut s = v.to_vec();
    s.sort_unstable();
    json!({"samples": s.len(), "max": s.last(), "p50": s.get(s.len() / 2)})
}

/// The history list during one `seqfix audit` of the source table while the live writer
/// inserts and marks messages sent, against the same writer alone for as long: a scan
/// that holds one read view for its whole run stops purge, so the list grows with the
/// writer's work for as long as the scan lasts. Target (issue 21): the audit's maximum is
/// at most the writer-alone maximum times 2, or plus 1,000, whichever is larger. Runs last:
/// the writer's rows stay in the source table (they are no duplicates).
fn history_section(b: &mut Bench, src: &TestDb) {
    let mut a = b.server.admin_conn();
    // MySQL says STATUS 'enabled', MariaDB ENABLED 1.
    let metric: Option<mysql::Row> =
        a.query_first("SELECT * FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").unwrap();
    let column =
        |name: &str| metric.as_ref().and_then(|r| r.get_opt::<Option<String>, _>(name)).and_then(|v| v.ok()).flatten();
    let enabled = column("STATUS").as_deref() == Some("enabled") || column("ENABLED").as_deref() == Some("1");
    let enabled_by_us = !enabled;
    if enabled_by_us {
        a.query_drop("SET GLOBAL innodb_monitor_enable = 'trx_rseg_history_len'").unwrap();
    }
    b.settle();
    let mut run = None;
    let audit = history_during(b, &src.url, || {
        let (r, secs) = timed(|| b.seqfix(&src.url, &["audit", "--format", "json", "--no-progress"]));
        run = Some((r, secs));
    });
    let (run, secs) = run.unwrap();
    b.settle();
    let idle = history_during(b, &src.url, || std::thread::sleep(Duration::from_secs_f64(secs)));
    let (audit_max, idle_max) = (audit.iter().max().copied().unwrap_or(0), idle.iter().max().copied().unwrap_or(0));
    let limit = (2 * idle_max).max(idle_max + 1000);
    let problem = run.problem();
    b.facts.insert(
        "history".into(),
        json!({
            "audit_secs": secs, "audit_problem": problem, "during_audit": history_stats(&audit),
            "writer_alone": history_stats(&idle), "limit": limit,
            "rule": "max during audit <= max(2 x writer-alone max, writer-alone max + 1000)",
            "target_met": problem.is_none().then_some(audit_max <= limit),
            "counter_enabled_by_the_benchmark": enabled_by_us,
        }),
    );
}

// ---------------------------------------------------------------------------------------
// Report

fn which(name: &str) -> Option<PathBuf> {
    std::env::var("PATH").ok()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn machine(b: &Bench) -> Json {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (version, pool): (String, u64) =
        b.server.admin_conn().query_first("SELECT VERSION(), @@innodb_buffer_pool_size").unwrap().unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    json!({"cpu": cpu, "cores": cores, "load_average_at_end": load.join(" "), "ram_gib": (ram_kb as f64 / 1048576.0 * 10.0).round() / 10.0,
           "server": version, "innodb_buffer_pool_size": pool, "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()})
}

fn fmt_s(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

fn fmt_ratio(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into())
}

fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    }
}

fn mb(kb: Option<i64>) -> String {
    kb.map(|k| format!("{:.1}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into())
}

/// Peak RSS verdict: under 64 MB everywhere, and "flat": the larger size needs at most
/// 1.5x the memory of the smaller one.
fn memory_verdict(mem: &[(String, usize, Option<i64>, String)]) -> (Option<bool>, Vec<String>) {
    let mut notes = vec![];
    let mut ok = true;
    let mut any = false;
    for cmd in ["audit", "dedupe", "process"] {
        let mut m: Vec<(usize, i64)> =
            mem.iter().filter(|r| r.0 == cmd).filter_map(|r| r.2.map(|k| (r.1, k))).collect();
        m.sort();
        m.dedup_by_key(|r| r.0);
        if m.is_empty() {
            continue;
        }
        any = true;
        let max = m.iter().map(|r| r.1).max().unwrap();
        let under = max < 64 * 1024;
        let flat = m.len() < 2 || (m.last().unwrap().1 as f64) <= 1.5 * m[0].1 as f64;
        ok &= under && flat;
        let unit = if cmd == "process" { "contacts" } else { "rows" };
        notes.push(format!(
            "{cmd}: {} ({}, {})",
            m.iter().map(|(n, k)| format!("{n} {unit} {} MB", mb(Some(*k)))).collect::<Vec<_>>().join(", "),
            if under { "under 64 MB" } else { "OVER 64 MB" },
            if m.len() < 2 {
                "one size only"
            } else if flat {
                "flat"
            } else {
                "NOT flat"
            }
        ));
    }
    (any.then_some(ok), notes)
}

fn summary_table(b: &Bench) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(["section", "contender", "median s", "runs (s)", "ratio", "target", "result", "note"]);
    for r in &b.rows {
        let runs: Vec<String> = r.times.iter().map(|x| format!("{x:.2}")).collect();
        t.add_row([
            r.section.clone(),
            r.contender.clone(),
            fmt_s(r.median_s),
            runs.join(" "),
            fmt_ratio(r.ratio),
            r.target.clone().unwrap_or_default(),
            verdict(r.met).into(),
            r.note.clone(),
        ]);
    }
    t
}

fn markdown(b: &Bench, mach: &Json, load_secs: f64) -> String {
    let mut s = String::new();
    let (marker, title) = doc_section(&b.args);
    s += &format!("<!-- {marker}:start (written by `cargo bench --bench compare`; edits here are overwritten) -->\n");
    s += &format!("## {title}\n\n");
    s += &format!(
        "- Data: {} rows of the production schema from the deterministic generator (seed {SEED}), {} surplus rows \
         in {} duplicate groups (window query); loaded in {load_secs:.1} s.\n",
        b.args.rows,
        b.facts.get("window_surplus_rows").cloned().unwrap_or(json!("?")),
        b.facts.get("audit_duplicate_groups").cloned().unwrap_or(json!("?")),
    );
    s += &format!(
        "- Machine: {} ({} cores), {} GiB RAM, load average at the end {}, server {} (private instance: \
         innodb_buffer_pool_size={}, redo log 512M-1G, innodb_io_capacity=2000, \
         innodb_flush_log_at_trx_commit=2, {}).\n",
        mach["cpu"].as_str().unwrap_or("?"),
        mach["cores"],
        mach["ram_gib"],
        mach["load_average_at_end"].as_str().unwrap_or("?"),
        mach["server"].as_str().unwrap_or("?"),
        b.args.buffer_pool,
        if b.args.server == "mysql" {
            "binary log on in ROW format with GTIDs, as MySQL ships"
        } else {
            "no binary log"
        }
    );
    s += &format!(
        "- Each contender ran {} times on an identical fresh copy of the data (copying excluded from the times); \
         the median is reported. seqfix times are wall-clock times of the release binary, including process start \
         and connection.\n",
        b.args.reps
    );
    s += &format!("- Reproduce: `{}`\n\n", b.args.command_line());
    s += "| section | contender | median s | runs (s) | ratio | target | result | note |\n";
    s += "|---|---|---:|---|---:|---|---|---|\n";
    for r in &b.rows {
        let runs: Vec<String> = r.times.iter().map(|x| format!("{x:.2}")).collect();
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.section,
            r.contender,
            fmt_s(r.median_s),
            runs.join(" "),
            fmt_ratio(r.ratio),
            r.target.clone().unwrap_or_default().replace('<', "&lt;"),
            verdict(r.met),
            r.note.replace('|', "\\|")
        );
    }
    let w = &b.facts.get("writer").cloned().unwrap_or(json!({}));
    let st = |k: &str| {
        let x = &w[k];
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1}% over 1 ms ({} inserts)",
            x["p50_ms"].as_f64().unwrap_or(f64::NAN),
            x["p99_ms"].as_f64().unwrap_or(f64::NAN),
            x["max_ms"].as_f64().unwrap_or(f64::NAN),
            x["over_1ms_pct"].as_f64().unwrap_or(f64::NAN),
            x["inserts"]
        )
    };
    s += "\n### The scan (from seqfix's JSON report)\n\n";
    let mut verdicts = vec![];
    for (what, key) in [("audit", "audit_scan"), ("dedupe", "dedupe_scan")] {
        let (line, ok) = scan_line(&b.facts, key);
        s += &format!("- {what}: {line}\n");
        verdicts.extend(ok);
    }
    s += &format!(
        "- target: no statement of the scan longer than 2 s: {}\n",
        if !b.facts.contains_key("audit_scan") && !b.facts.contains_key("dedupe_scan") {
            "not judged (neither ran)"
        } else if verdicts.is_empty() {
            "not reported by this build"
        } else if verdicts.iter().all(|v| *v) {
            "met"
        } else {
            "MISSED"
        }
    );
    s += "\n### 5. Impact on the live application\n\n";
    if w.get("idle").is_none() {
        s += "- not run\n";
    } else {
        s += &format!(
            "A writer thread inserts one new message per autocommit statement, every 5 ms, into the table being \
             worked on. Idle, dedupe and the two bare minimums: the inserts of {} rounds pooled (each on a fresh copy); \
             migrate: one run.\n\n",
            w["rounds"]
        );
        s += &format!("- idle server: {}\n", st("idle"));
        s += &format!("- during {}: {}\n", w["during_dedupe_of"].as_str().unwrap_or("?"), st("during_dedupe"));
        if w["during_dedupe_scan"].is_object() {
            s += &format!("  - its scan (candidate rows sent to seqfix): {}\n", st("during_dedupe_scan"));
            s += &format!("  - its batches: {}\n", st("during_dedupe_batches"));
        }
        s += &format!("- during the bare minimum dedupe (for comparison): {}\n", st("during_bare"));
        s += &format!("  - its window query: {}\n", st("during_bare_query"));
        s += &format!("  - its DELETEs: {}\n", st("during_bare_deletes"));
        if w["during_archiving"].is_object() {
            s += &format!(
                "- during the bare minimum that archives (window query, then per 1,000 victims one transaction: \
                 lock, copy into an archive, delete): {}\n",
                st("during_archiving")
            );
            s += &format!("  - its window query: {}\n", st("during_archiving_query"));
            s += &format!("  - its transactions: {}\n", st("during_archiving_batches"));
        }
        s += &format!("- during {}: {}\n", w["during_migrate_of"].as_str().unwrap_or("?"), st("during_migrate"));
        s += &format!(
            "- target: writer p99 during dedupe <= 2x idle p99: ratio {:.2}x, {}\n",
            w["p99_ratio_dedupe_vs_idle"].as_f64().unwrap_or(f64::NAN),
            match w["target_met"].as_bool() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not judged (seqfix dedupe did not run)",
            }
        );
    }
    let batch = &b.facts.get("dedupe_batches").cloned().unwrap_or(json!({}));
    let bf = |k: &str| batch[k].as_f64().map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "not reported".into());
    s += &format!(
        "- dedupe batch transactions (from its JSON report): p50 {}, p99 {}, max {}\n",
        bf("p50_ms"),
        bf("p99_ms"),
        bf("max_ms")
    );
    let h = b.facts.get("history").cloned().unwrap_or(json!(null));
    s += "\n### 5b. InnoDB's history list during a scan\n\n";
    if h.is_null() {
        s += "- not run\n";
    } else {
        s += &format!(
            "A writer inserts one message every 5 ms and marks the message it inserted ten steps before as sent \
             (autocommit); `trx_rseg_history_len` sampled every 200 ms, during one seqfix audit of the source \
             table ({:.1} s) and for as long with the writer alone.\n\n",
            h["audit_secs"].as_f64().unwrap_or(f64::NAN)
        );
        let hs = |k: &str| format!("max {}, median {} ({} samples)", h[k]["max"], h[k]["p50"], h[k]["samples"]);
        s += &format!("- writer alone: {}\n", hs("writer_alone"));
        s += &format!("- during seqfix audit: {}\n", hs("during_audit"));
        s += &format!(
            "- target: audit's maximum no higher than the writer alone's times 2 or plus 1,000, whichever is larger \
             (here {}): {}\n",
            h["limit"],
            match h["target_met"].as_bool() {
                Some(true) => "met".to_string(),
                Some(false) => "MISSED".to_string(),
                None => format!("not judged ({})", h["audit_problem"].as_str().unwrap_or("seqfix audit did not run")),
            }
        );
    }
    let (mem_ok, notes) = memory_verdict(&b.memory);
    s += "\n### 6. Peak RSS of the seqfix process (VmHWM of the process, sampled every 5 ms)\n\n";
    if notes.is_empty() {
        s += "- no seqfix subcommand ran\n";
    }
    for n in notes {
        s += &format!("- {n}\n");
    }
    s += &format!(
        "- target: under 64 MB and flat: {}\n",
        match mem_ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not judged",
        }
    );
    s += &format!("<!-- {marker}:end -->\n");
    s
}

/// The size as a marker's suffix: 10m, 1m, 100k (or the number).
fn size_label(rows: usize) -> String {
    match rows {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The marker and title of a run's results section in docs/benchmarks.md. A full run at
/// the default 1,000,000 rows writes the server's "Latest results"; any other run (another
/// size, or `--only` some sections, as a run at scale is) writes a section of its own, keyed
/// by server and size, so that the sizes sit side by side.
fn doc_section(args: &Args) -> (String, String) {
    let (base, name) = if args.server == "mysql" { ("results-mysql", "MySQL") } else { ("results", "MariaDB") };
    if args.only.is_none() && args.rows == 1_000_000 {
        return (base.into(), format!("Latest results on {name}"));
    }
    let what = match &args.only {
        Some(o) => format!(", sections {}", o.join(", ")),
        None => String::new(),
    };
    (format!("{base}-{}", size_label(args.rows)), format!("Results at {} rows on {name}{what}", size_label(args.rows)))
}

/// Replaces the section `marker` of docs/benchmarks.md, keeping the hand-written text and
/// the other sections; a new section goes after the last results section.
fn write_doc(results: &str, marker: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    let (start, stop) = (format!("<!-- {marker}:start"), format!("<!-- {marker}:end -->"));
    let new = match (old.find(&start), old.find(&stop)) {
        (Some(a), Some(z)) => {
            let end = z + stop.len() + 1;
            format!("{}{}{}", &old[..a], results, old.get(end..).unwrap_or(""))
        }
        _ => {
            let last_end = old
                .match_indices("<!-- results")
                .filter_map(|(i, _)| {
                    let end = old[i..].find("-->").map(|j| i + j + "-->".len())?;
                    old[i..end].ends_with(":end -->").then_some((end + 1).min(old.len()))
                })
                .last();
            match last_end {
                Some(end) => format!("{}\n{}{}", &old[..end], results, &old[end..]),
                None => format!("{old}\n{results}"),
            }
        }
    };
    std::fs::write(&path, new).unwrap();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches`/`--all-targets` runs this binary
    // without it, as a test, where a half-hour benchmark has no place.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("compare: benchmark only; run it with `cargo bench --bench compare [-- --rows N]`");
        return;
    }
    let args = Args::parse();
    // SEQFIX_BENCH_BIN measures another build of seqfix (e.g. a branch not merged yet).
    let bin =
        std::env::var_os("SEQFIX_BENCH_BIN").map(PathBuf::from).unwrap_or(PathBuf::from(env!("CARGO_BIN_EXE_seqfix")));
    eprintln!("compare: starting a private {} server for {} rows (binary {})", args.server, args.rows, bin.display());
    let redo = if args.server == "mysql" {
        // The harness reads these when it starts its first server. MySQL sizes its redo
        // log with innodb_redo_log_capacity (innodb_log_file_size is deprecated there).
        std::env::set_var("SEQFIX_TEST_SERVER", "mysql");
        if std::env::var_os("SEQFIX_MYSQL_ROOT").is_none() {
            let out = std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mysql-server.sh"))
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run scripts/mysql-server.sh");
            assert!(out.status.success(), "scripts/mysql-server.sh failed: no MySQL server to measure on");
            std::env::set_var("SEQFIX_MYSQL_ROOT", String::from_utf8_lossy(&out.stdout).trim());
        }
        "--innodb-redo-log-capacity=1G"
    } else {
        "--innodb-log-file-size=512M"
    };
    // (The harness gives the server its own directory for on-disk temporary tables.)
    let server = Server::start(ServerOpts {
        args: vec![
            format!("--innodb-buffer-pool-size={}", args.buffer_pool),
            redo.into(),
            // What an SSD-backed production server is given (the default, 200, suits
            // spinning disks): flushing keeps up, so checkpoints do not stall writers.
            "--innodb-io-capacity=2000".into(),
            "--max-allowed-packet=256M".into(),
            // The data is loaded with LOAD DATA LOCAL INFILE (off by default on MySQL).
            "--local-infile=1".into(),
        ],
    });
    let mut b = Bench { args, server, bin, rows: vec![], facts: BTreeMap::new(), memory: vec![] };
    let started = Instant::now();
    let step = |what: &str| eprintln!("compare: [{:>6.0}s] {what}", started.elapsed().as_secs_f64());

    let check_rows = b.args.rows.min(100_000);
    step(&format!("checking the bulk loader against fixture::insert on {check_rows} rows"));
    let check = b.check_bulk_load(check_rows);
    step(&format!(
        "same rows, same bytes ({}): bulk load {:.1} s, multi-row INSERTs {:.1} s",
        check["digest"].as_str().unwrap_or("?"),
        check["bulk_secs"].as_f64().unwrap_or(f64::NAN),
        check["insert_secs"].as_f64().unwrap_or(f64::NAN)
    ));
    b.facts.insert("bulk_load_check".into(), check);
    step("loading the messages");
    let (src, load_secs, how) = b.load_in_chunks("src", b.args.rows, SEED, LOAD_CHUNK);
    b.facts.insert("load".into(), how);
    step(&format!(
        "loaded in {load_secs:.1} s ({:.0} rows/s); preparing the deduplicated copies",
        b.args.rows as f64 / load_secs
    ));
    // The deduplicated copies, for the sections that use them (at scale, each copy and the
    // dedupe that makes it cost minutes).
    let (clean, clean_indexed) = if ["audit-index", "migrate", "impact"].iter().any(|s| b.args.wants(s)) {
        let (clean, copy_secs) = timed(|| b.copy_of(&src, "clean"));
        step(&format!("copied in {copy_secs:.1} s (INSERT ... SELECT, then settled)"));
        b.facts.insert("copy_secs".into(), json!(copy_secs));
        let surplus = bare_dedupe(&clean.url);
        b.facts.insert("window_surplus_rows".into(), json!(surplus));
        let clean_indexed = b.args.wants("audit-index").then(|| {
            let db = b.copy_of(&clean, "clean_indexed");
            conn(&db.url).query_drop(BARE_ALTER).unwrap();
            db
        });
        (Some(clean), clean_indexed)
    } else {
        let surplus = window_victims(&mut conn(&src.url)).len();
        b.facts.insert("window_surplus_rows".into(), json!(surplus));
        (None, None)
    };

    if b.args.wants("audit") || b.args.wants("audit-index") {
        step("1. audit");
        audit_section(&mut b, &src, clean_indexed.as_ref());
    }
    drop(clean_indexed);
    if b.args.wants("dedupe") {
        step("2. dedupe");
        dedupe_section(&mut b, &src);
    }
    if b.args.wants("join") {
        step("2b. the original DELETE ... JOIN");
        join_section(&mut b);
    }
    if b.args.wants("migrate") {
        step("3. migrate");
        migrate_section(&mut b, clean.as_ref().unwrap());
    }
    if b.args.wants("process") {
        step("4. process");
        process_section(&mut b);
    }
    if b.args.wants("impact") {
        step("5. impact on a live writer");
        impact_section(&mut b, &src, clean.as_ref().unwrap());
    }
    if b.args.wants("memory") {
        step("6. memory at a second size");
        memory_section(&mut b);
    }
    if b.args.wants("history") {
        step("5b. the history list during a scan");
        history_section(&mut b, &src);
    }
    step("done; writing the report");

    let mach = machine(&b);
    println!("{}", summary_table(&b));
    let results = markdown(&b, &mach, load_secs);
    let (mem_ok, mem_notes) = memory_verdict(&b.memory);
    println!("{}", results.lines().skip_while(|l| !l.starts_with("### ")).collect::<Vec<_>>().join("\n"));
    let out = json!({
        "command": b.args.command_line(),
        "rows": b.args.rows,
        "reps": b.args.reps,
        "buffer_pool": b.args.buffer_pool,
        "machine": mach,
        "load_secs": load_secs,
        "results": b.rows,
        "facts": b.facts,
        "memory": b.memory.iter().map(|(c, n, k, note)| json!({"command": c, "rows": n, "maxrss_kb": k, "note": note}))
            .collect::<Vec<_>>(),
        "memory_target_met": mem_ok,
        "memory_notes": mem_notes,
    });
    let (marker, _) = doc_section(&b.args);
    let no_doc = b.args.no_doc;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    // The latest run, and the latest of its kind (server, size, full or not) beside it.
    let json = serde_json::to_string_pretty(&out).unwrap();
    std::fs::write(dir.join("compare.json"), &json).unwrap();
    std::fs::write(dir.join(format!("compare-{marker}.json")), &json).unwrap();
    drop(b);
    if no_doc {
        eprintln!("compare: wrote {} (--no-doc: docs/benchmarks.md left alone)", dir.join("compare.json").display());
    } else {
        write_doc(&results, &marker);
        eprintln!(
            "compare: wrote {} and the {marker} section of docs/benchmarks.md",
            dir.join("compare.json").display()
        );
    }
}
