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
mod args;
mod audit;
#[path = "../../tests/common/mod.rs"]
mod common;
mod dedupe;
mod history;
mod impact;
mod load;
mod memory;
mod migrate;
mod process;
mod report;

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

use args::*;
use audit::*;
use dedupe::*;
use history::*;
use impact::*;
use load::*;
use memory::*;
use migrate::*;
use process::*;
use report::*;

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
