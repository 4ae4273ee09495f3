//! Operating seqfix: `--metrics-file` (parsed back with an independent parser), MySQL option
//! files (`--defaults-file`, `~/.my.cnf`), shell completions and the man page.
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use mysql::prelude::Queryable;
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{PrometheusType, PrometheusValue};
use seqfix_fixture::messages::Spec;

use crate::common::{admin_password, admin_user, Expected, Seqfix, TestDb};

/// One sample: metric name, its labels, its value; and each family's type.
struct Parsed {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: BTreeMap<String, PrometheusType>,
}

impl Parsed {
    fn of(text: &str) -> Parsed {
        let exp = parse_prometheus(text).unwrap_or_else(|e| panic!("not valid exposition text ({e:?}):\n{text}"));
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for (name, family) in &exp.families {
            types.insert(name.clone(), family.family_type.clone());
            for s in family.iter_samples() {
                let set = s.get_labelset().unwrap();
                let labels: BTreeMap<String, String> = family
                    .get_label_names()
                    .iter()
                    .map(|l| (l.clone(), set.get_label_value(l).unwrap_or("").to_string()))
                    .collect();
                let v = match &s.value {
                    PrometheusValue::Gauge(n) => n.as_f64(),
                    PrometheusValue::Counter(c) => c.value.as_f64(),
                    other => panic!("unexpected value {other:?}"),
                };
                samples.push((name.clone(), labels, v));
            }
        }
        Parsed { samples, types }
    }

    /// The value of the one sample of `name` whose labels include `extra`.
    fn value(&self, name: &str, extra: &[(&str, &str)]) -> f64 {
        let hits: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| n == name && extra.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| *v)
            .collect();
        assert_eq!(hits.len(), 1, "{name} {extra:?}: {:?}", self.samples);
        hits[0]
    }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as f64
}

#[test]
fn audit_metrics_file_parses_and_matches_the_answer() {
    let db = TestDb::new("ops_audit_metrics");
    let rows = db.load_messages(&Spec::new(1_500, 31));
    let exp = Expected::of(&rows);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seqfix.prom");
    std::fs::write(&path, "stale").unwrap();
    let before = now();
    db.seqfix().args(["audit", "--metrics-file", path.to_str().unwrap()]).run().expect_code(0);
    let after = now();

    let text = std::fs::read_to_string(&path).unwrap();
    let m = Parsed::of(&text);
    for (name, _, _) in &m.samples {
        assert_eq!(m.types[name], PrometheusType::Gauge, "{name}");
    }
    for (name, labels, _) in &m.samples {
        assert_eq!(labels.get("database"), Some(&db.name), "{name}");
        assert_eq!(labels.get("table").map(String::as_str), Some("broadcast_messages"), "{name}");
        assert_eq!(labels.get("command").map(String::as_str), Some("audit"), "{name}");
    }
    let seq_rows = rows.iter().filter(|r| r.sequence_stepid.is_some()).count();
    assert_eq!(m.value("seqfix_sequence_messages", &[]), seq_rows as f64);
    assert_eq!(m.value("seqfix_duplicate_groups", &[]), exp.duplicate_groups().len() as f64);
    assert_eq!(m.value("seqfix_surplus_rows", &[]), exp.surplus() as f64);
    assert_eq!(m.value("seqfix_unique_index_present", &[]), 0.0);
    let mut by_status: BTreeMap<String, f64> = BTreeMap::new();
    for g in exp.duplicate_groups() {
        for v in &g[1..] {
            *by_status.entry(v.status.clone()).or_default() += 1.0;
        }
    }
    for (status, n) in &by_status {
        assert_eq!(m.value("seqfix_surplus_rows_by_status", &[("status", status)]), *n, "{status}");
    }
    let duration = m.value("seqfix_run_duration_seconds", &[]);
    assert!(duration >= 0.0 && duration <= after - before + 1.0, "{duration}");
    let last = m.value("seqfix_last_success_timestamp_seconds", &[]);
    assert!(last >= before.floor() && last <= after, "{before} <= {last} <= {after}");

    // Mode 0644 and no temporary file left next to it.
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(names, ["seqfix.prom"]);
}

#[test]
fn status_metrics_through_an_option_file() {
    let db = TestDb::new("ops_status_metrics");
    let rows = db.load_messages(&Spec::new(900, 32));
    let exp = Expected::of(&rows);
    let dir = tempfile::tempdir().unwrap();
    let cnf = write_cnf(dir.path(), "my.cnf", &db, &admin_user(), &format!("\"{}\"", admin_password()));
    let prom = dir.path().join("status.prom");
    let out = Seqfix::new()
        .args(["--defaults-file", cnf.to_str().unwrap(), "--metrics-file", prom.to_str().unwrap(), "status"])
        .args(["--format", "json"])
        .run()
        .expect_code(1);
    let j = out.json();
    let m = Parsed::of(&std::fs::read_to_string(&prom).unwrap());
    assert_eq!(m.value("seqfix_status_healthy", &[("command", "status")]), 0.0);
    assert_eq!(m.value("seqfix_duplicate_groups", &[("database", &db.name)]), exp.duplicate_groups().len() as f64);
    assert_eq!(m.value("seqfix_surplus_rows", &[]), exp.surplus() as f64);
    assert_eq!(m.value("seqfix_unique_index_present", &[]), 0.0);
    assert_eq!(m.value("seqfix_status_check", &[("check", "unique_index")]), 2.0);
    assert_eq!(m.value("seqfix_status_check", &[("check", "process_lock")]), 0.0);
    assert_eq!(m.value("seqfix_overdue_contacts", &[]), 0.0);
    assert_eq!(m.value("seqfix_process_lock_held", &[]), 0.0);
    assert_eq!(m.value("seqfix_pending_migrations", &[]), 1.0);
    // one seqfix_status_check sample per check in the report
    let checks = j["checks"].as_array().unwrap().len();
    assert_eq!(m.samples.iter().filter(|(n, _, _)| n == "seqfix_status_check").count(), checks);
}

#[test]
fn metrics_file_bad_input() {
    let db = TestDb::new("ops_metrics_bad");
    db.create_schema();
    db.seqfix()
        .args(["audit", "--metrics-file", "/nonexistent-seqfix-dir/x.prom"])
        .run()
        .expect_error("does not exist");
    let dir = tempfile::tempdir().unwrap();
    db.seqfix().args(["audit", "--metrics-file", dir.path().to_str().unwrap()]).run().expect_error("is a directory");
}

/// A file seqfix would write after deleting rows is tried first: a path nobody can write
/// (even root: /proc) is refused before any work, and nothing is changed.
#[test]
fn unwritable_output_files_are_refused_before_any_work() {
    let db = TestDb::new("ops_unwritable_out");
    let rows = db.load_messages(&Spec::new(400, 8));
    assert!(Expected::of(&rows).surplus() > 0);
    let before = db.checksum("broadcast_messages");
    for flags in [["--metrics-file", "/proc/seqfix.prom"], ["--plan-file", "/proc/seqfix-plan.tsv"]] {
        let out = db.seqfix().args(["dedupe", "--yes"]).args(flags).run().expect_error("cannot write");
        assert!(out.stderr.contains(flags[0]) && out.stderr.contains("nothing was done"), "{}", out.stderr);
    }
    db.seqfix()
        .args(["process", "--metrics-file", "/proc/seqfix.prom"])
        .run()
        .expect_error("cannot write --metrics-file");
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_runs"), "no run was started");
}

/// The metrics file's directory vanishes while dedupe deletes: the run's report and run id
/// are printed, one line says what could not be written, and the exit code is 3, not 2.
#[test]
fn a_metrics_file_that_fails_after_the_work_exits_3_with_the_report() {
    let db = TestDb::new("ops_metrics_after");
    let rows = db.load_messages(&Spec::new(1_500, 9));
    let exp = Expected::of(&rows);
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("textfile");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("seqfix.prom");
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--format", "json", "--batch-size", "10", "--sleep", "30ms", "--no-progress"])
        .args(["--metrics-file", path.to_str().unwrap()])
        .spawn();
    db.wait_archived_more_than(0);
    std::fs::remove_dir(&sub).unwrap();
    let out = crate::common::Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(out.code, 3, "{}", out.stderr);
    let j = out.json();
    let run_id = j["run_id"].as_str().unwrap();
    assert_eq!(j["deleted_rows"].as_u64().unwrap(), exp.surplus() as u64, "the work was done: {j}");
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains(run_id) && lines[0].contains("cannot write the metrics file"), "{}", out.stderr);
}

// ---- option files ----

/// Writes an option file for `db` as `user` with the password text exactly as given.
fn write_cnf(dir: &Path, name: &str, db: &TestDb, user: &str, password_text: &str) -> std::path::PathBuf {
    let opts = mysql::Opts::from_url(&db.url).unwrap();
    let text = format!(
        "# seqfix connection\n[client]\nuser = {user}\npassword = {password_text}   # inline comment\n\
         host = {}\nport = {}\n\n[mysqldump]\nquick\n\n[seqfix]\ndatabase = {}\n",
        opts.get_ip_or_hostname(),
        opts.get_tcp_port(),
        db.name
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Escapes a string for a single-quoted SQL literal (backslash escapes on, as by default).
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

#[test]
fn defaults_file_with_a_password_full_of_special_characters() {
    let db = TestDb::new("ops_cnf_password");
    let rows = db.load_messages(&Spec::new(400, 33));
    let password = "p@ss:w/rd#\"x y;='\\z%20";
    let mut c = db.conn();
    c.query_drop("DROP USER IF EXISTS 'seqfix_cnf'@'%'").unwrap();
    c.query_drop(format!("CREATE USER 'seqfix_cnf'@'%' IDENTIFIED BY {}", sql_literal(password))).unwrap();
    c.query_drop(format!("GRANT SELECT ON `{}`.* TO 'seqfix_cnf'@'%'", db.name)).unwrap();
    // In the option file: double quotes, with `"` and `\` escaped by a backslash.
    let quoted = format!("\"{}\"", password.replace('\\', "\\\\").replace('"', "\\\""));
    let dir = tempfile::tempdir().unwrap();
    let cnf = write_cnf(dir.path(), "my.cnf", &db, "seqfix_cnf", &quoted);
    let out = Seqfix::new()
        .args(["--defaults-file", cnf.to_str().unwrap(), "audit", "--format", "json"])
        .run()
        .expect_code(0);
    assert_eq!(out.json()["surplus_rows"], Expected::of(&rows).surplus() as u64);

    // A wrong password: access denied, and the password is not echoed.
    let wrong = write_cnf(dir.path(), "wrong.cnf", &db, "seqfix_cnf", "'Wr0ng#Secr3t'");
    let out =
        Seqfix::new().args(["--defaults-file", wrong.to_str().unwrap(), "audit"]).run().expect_error("access denied");
    assert!(!out.stderr.contains("Wr0ng") && !out.stdout.contains("Wr0ng"));
}

#[test]
fn home_my_cnf_is_used_when_no_url_is_given() {
    let db = TestDb::new("ops_home_cnf");
    let rows = db.load_messages(&Spec::new(300, 34));
    let home = tempfile::tempdir().unwrap();
    write_cnf(home.path(), ".my.cnf", &db, &admin_user(), &admin_password());
    let home_s = home.path().to_str().unwrap();
    let j = Seqfix::new().env("HOME", home_s).args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["surplus_rows"], Expected::of(&rows).surplus() as u64);
    assert_eq!(j["database"], db.name.as_str());

    // DATABASE_URL takes precedence over ~/.my.cnf: a URL naming an unknown database fails.
    let unknown = db.url.replace(&db.name, "no_such_db_seqfix");
    Seqfix::new()
        .env("HOME", home_s)
        .env("DATABASE_URL", &unknown)
        .args(["audit"])
        .run()
        .expect_error("unknown database");
    // --defaults-file takes precedence over ~/.my.cnf.
    let other = tempfile::tempdir().unwrap();
    let bad = write_cnf(other.path(), "bad.cnf", &db, &admin_user(), "not-the-password");
    Seqfix::new()
        .env("HOME", home_s)
        .args(["--defaults-file", bad.to_str().unwrap(), "audit"])
        .run()
        .expect_error("access denied");
    // Without a URL, an option file or ~/.my.cnf: the usual error, naming every way.
    Seqfix::new().env("HOME", other.path().to_str().unwrap()).args(["audit"]).run().expect_error("--defaults-file");
}

#[test]
fn bad_option_files_are_one_clear_line() {
    let db = TestDb::new("ops_cnf_bad");
    db.create_schema();
    let before = db.checksum("broadcast_messages");
    let dir = tempfile::tempdir().unwrap();
    let run = |path: &Path| Seqfix::new().args(["--defaults-file", path.to_str().unwrap(), "audit"]).run();
    run(&dir.path().join("missing.cnf")).expect_error("cannot read the option file");
    run(dir.path()).expect_error("cannot read the option file");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let out = run(&write("m1.cnf", "[client]\nuser=x\npassword=\"s3cretpw\n")).expect_error("line 3");
    assert!(!out.stderr.contains("s3cretpw"));
    run(&write("m2.cnf", "user=x\n")).expect_error("line 1: option outside any group");
    run(&write("m3.cnf", "[client\n")).expect_error("line 1");
    run(&write("m4.cnf", "!include /etc/mysql/other.cnf\n")).expect_error("!include is not supported");
    run(&write("m5.cnf", "[client]\nuser=x\npassword=y\n")).expect_error("no database given");
    run(&write("m6.cnf", "[seqfix]\nuser=x\ndatabse=y\n")).expect_error("unknown option \"databse\" in [seqfix]");
    run(&write("m7.cnf", "[client]\npassword=y\ndatabase=d\n")).expect_error("gives no user");
    let open = write("m8.cnf", "[client]\nuser=x\ndatabase=d\n");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    run(&open).expect_error("world-writable");
    // an unreadable ~/.my.cnf (here: a directory) is an error too, not silently skipped
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".my.cnf")).unwrap();
    Seqfix::new().env("HOME", home.path().to_str().unwrap()).args(["audit"]).run().expect_error(".my.cnf");
    assert_eq!(db.checksum("broadcast_messages"), before);
}

// ---- completions and man page ----

fn installed(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Seqfix::new().args(["completions", shell]).run().expect_code(0);
        assert!(out.stdout.len() > 500, "{shell}: {}", out.stdout);
        for word in ["audit", "status", "completions", "metrics-file", "defaults-file", "stale-after"] {
            assert!(out.stdout.contains(word), "{shell} completion lacks {word}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("seqfix.{shell}"));
        std::fs::write(&file, &out.stdout).unwrap();
        let syntax: Option<Vec<&str>> = match shell {
            "bash" => Some(vec!["-n"]),
            "zsh" => Some(vec!["-n"]),
            "fish" => Some(vec!["--no-execute"]),
            _ => None,
        };
        if installed(shell) {
            let mut cmd = Command::new(shell);
            cmd.args(syntax.unwrap()).arg(&file);
            let st = cmd.output().unwrap();
            assert!(st.status.success(), "{shell} syntax check failed: {}", String::from_utf8_lossy(&st.stderr));
        } else {
            eprintln!("note: {shell} is not installed; its completion script was not syntax-checked");
        }
    }
    let out = Seqfix::new().args(["completions", "powershell"]).run().expect_code(2);
    assert!(out.stderr.contains("powershell"), "{}", out.stderr);
}

#[test]
fn man_page_renders() {
    let out = Seqfix::new().args(["man"]).run().expect_code(0);
    let page = out.stdout;
    let th = page.lines().find(|l| l.starts_with('.') && !l.starts_with(".ie") && !l.starts_with(".el")).unwrap();
    assert!(th.starts_with(".TH seqfix 1"), "first macro after the quote setup: {th}");
    for word in ["audit", "status", "completions", "defaults\\-file", "metrics\\-file"] {
        assert!(page.contains(word), "man page lacks {word}");
    }
    assert_eq!(Seqfix::new().args(["manpage"]).run().expect_code(0).stdout, page, "manpage is an alias");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seqfix.1");
    std::fs::write(&file, &page).unwrap();
    Seqfix::new().args(["man", "--dir", dir.path().to_str().unwrap()]).run().expect_code(0);
    for name in ["seqfix.1", "seqfix-audit.1", "seqfix-status.1", "seqfix-completions.1"] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    if installed("man") {
        let rendered = Command::new("man").env("MANWIDTH", "100").args(["-l"]).arg(&file).output().unwrap();
        assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("seqfix") && text.contains("status"), "{text}");
        let sub = Command::new("man").args(["-l"]).arg(dir.path().join("seqfix-status.1")).output().unwrap();
        assert!(String::from_utf8_lossy(&sub.stdout).contains("stale"));
    } else {
        eprintln!("note: man is not installed; the page was not rendered");
    }
    Seqfix::new().args(["man", "--dir", "/nonexistent-seqfix-dir"]).run().expect_error("is not a directory");
    // Neither needs a database.
    assert!(Seqfix::new().args(["completions", "bash"]).run().code == 0);
}

/// `seqfix audit | head -1`: the reader goes away before the report is written. That is not
/// a crash (Rust's stdout would panic with a backtrace): seqfix exits as the work went.
#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    let db = TestDb::new("ops_broken_pipe");
    db.load_messages(&Spec::new(300, 5));
    let mut child = db.seqfix().args(["audit", "--format", "json"]).spawn();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && stderr.trim().is_empty(), "{stderr}");
}

/// MySQL warns (1287, 1681) about syntax it will remove: seqfix must send none of it, so that
/// a later release does not turn a warning into a failed run. The server counts each
/// statement's warnings per digest; the flow below runs every command on one database.
#[test]
fn no_statement_draws_a_deprecation_warning_on_mysql() {
    let db = TestDb::new("ops_no_warnings");
    let mut c = db.conn();
    if crate::common::Flavor::of(&mut c) == crate::common::Flavor::MariaDb {
        // MariaDB deprecates none of what this looks for, and its performance_schema is
        // off by default.
        return;
    }
    db.create_schema();
    let world = seqfix_fixture::contacts::generate(&seqfix_fixture::contacts::ContactSpec::new(60, 11));
    seqfix_fixture::contacts::insert(&mut c, &world).unwrap();
    let rows: Vec<seqfix_fixture::messages::Message> = seqfix_fixture::messages::generate(&Spec::new(400, 3)).collect();
    db.insert(&rows);
    // Only what seqfix sends from here on is counted.
    c.query_drop("TRUNCATE TABLE performance_schema.events_statements_summary_by_digest").unwrap();
    db.seqfix().args(["audit"]).run().expect_code(0);
    db.seqfix().args(["dedupe", "--dry-run"]).run().expect_code(0);
    let run = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    db.seqfix().args(["migrate"]).run().expect_code(0);
    db.seqfix().args(["process"]).run().expect_code(0);
    // Healthy or not (contacts the generator left overdue), but it ran its checks.
    let status = db.seqfix().args(["status"]).run();
    assert!(status.code == 0 || status.code == 1, "{}", status.stderr);
    db.seqfix().args(["migrate", "--down", "--yes"]).run().expect_code(0);
    db.seqfix().args(["restore", "--yes", "--run", run["run_id"].as_str().unwrap()]).run().expect_code(0);
    let warned: Vec<(String, u64, u64)> = c
        .exec(
            "SELECT DIGEST_TEXT, COUNT_STAR, SUM_WARNINGS FROM performance_schema.events_statements_summary_by_digest \
             WHERE SCHEMA_NAME = ? AND SUM_WARNINGS > 0",
            (db.name.as_str(),),
        )
        .unwrap();
    // Notes that are not warnings: `DROP ... IF EXISTS` of what is not there, and a
    // `CREATE ... IF NOT EXISTS` of what is (at most one per run after the first).
    let real: Vec<&(String, u64, u64)> = warned
        .iter()
        .filter(|(text, runs, warnings)| {
            let t = text.to_ascii_uppercase();
            let drop_if_exists = t.starts_with("DROP") && t.contains("IF EXISTS");
            let create_if_not_exists = t.starts_with("CREATE") && t.contains("IF NOT EXISTS") && warnings < runs;
            !drop_if_exists && !create_if_not_exists
        })
        .collect();
    assert!(real.is_empty(), "statements that drew warnings (text, runs, warnings): {real:#?}");
}

/// Argument errors quote the command line back: a URL given without `--database-url` must
/// lose its password there, and a negative number is refused for its value.
#[test]
fn argument_errors_hide_passwords_and_name_bad_values() {
    let out = Seqfix::new().args(["audit", "mysql://app:Pl41n-S3cret@db.example:3306/app"]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("unexpected argument 'mysql://app:***@db.example:3306/app'"), "{}", out.stderr);
    assert!(!out.stderr.contains("Pl41n-S3cret") && !out.stdout.contains("Pl41n-S3cret"), "{}", out.stderr);
    let out = Seqfix::new().args(["audit", "--top", "-1"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid value '-1' for '--top"), "{}", out.stderr);
    let out = Seqfix::new().args(["dedupe", "--batch-size", "-5"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid value '-5' for '--batch-size"), "{}", out.stderr);
    // Timeouts that cannot work are refused before any connection.
    let url = "mysql://u:pw@127.0.0.1:1/x";
    Seqfix::new()
        .args(["--database-url", url, "--idle-timeout", "1s", "audit"])
        .run()
        .expect_error("--idle-timeout must be at least 10s");
    Seqfix::new()
        .args(["--database-url", url, "--idle-timeout", "1m", "dedupe", "--sleep", "2m"])
        .run()
        .expect_error("--sleep must be shorter than --idle-timeout");
    // help still goes to stdout with exit 0
    let help = Seqfix::new().args(["audit", "--help"]).run().expect_code(0);
    assert!(help.stdout.contains("Usage: seqfix audit"));
}

/// A peer that accepts the TCP connection and never says a word: the log-in gives up after
/// --connect-timeout with one line, instead of waiting forever.
#[test]
fn a_silent_server_is_given_up_after_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts (and keeps) connections, never writes.
    let held = std::thread::spawn(move || listener.incoming().take(1).map(|s| s.unwrap()).collect::<Vec<_>>());
    let start = std::time::Instant::now();
    let out = Seqfix::new()
        .args(["--database-url", &format!("mysql://u:pw@127.0.0.1:{port}/x"), "--connect-timeout", "2s", "audit"])
        .run()
        .expect_error("no answer to the log-in handshake within --connect-timeout 2s");
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
    assert!(!out.stderr.contains("pw@"), "{}", out.stderr);
    drop(held);
    Seqfix::new()
        .args(["--database-url", "mysql://u:pw@127.0.0.1:1/x", "--connect-timeout", "0s", "audit"])
        .run()
        .expect_error("--connect-timeout must be more than 0s");
}

/// A server that hangs in the middle of a run (SIGSTOP): the statement gives up after
/// --io-timeout, the run stops with one line (exit 2), and once the server is back nothing
/// was lost: every row is live or archived.
#[test]
fn a_server_that_hangs_mid_run_is_given_up_after_the_io_timeout() {
    let server = crate::common::Server::start(crate::common::ServerOpts::default());
    let db = server.fresh_db("ops_hung_server");
    let rows = db.load_messages(&Spec::new(2_000, 12));
    let ids_before: std::collections::BTreeSet<String> = rows.iter().map(|m| m.id.clone()).collect();
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "20ms", "--no-progress", "--io-timeout", "3s"])
        .spawn();
    db.wait_archived_more_than(20);
    server.freeze(true);
    let frozen_at = std::time::Instant::now();
    let out = crate::common::Run::from_output(child.wait_with_output().unwrap());
    let waited = frozen_at.elapsed();
    server.freeze(false);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(waited < std::time::Duration::from_secs(30), "gave up only after {waited:?}");
    // One error line (the log's warnings may add that the ledger could not be updated).
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("seqfix:")).collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("stopped answering") && lines[0].contains("--io-timeout"), "{}", out.stderr);
    assert!(lines[0].contains("run dedupe again"), "{}", out.stderr);
    // Nothing lost: live and archived ids are disjoint and together every row.
    let mut c = db.conn();
    let live: std::collections::BTreeSet<String> =
        c.query::<String, _>("SELECT id FROM broadcast_messages").unwrap().into_iter().collect();
    let archived: std::collections::BTreeSet<String> =
        c.query::<String, _>("SELECT id FROM seqfix_archive").unwrap().into_iter().collect();
    assert!(live.is_disjoint(&archived));
    assert_eq!(live.union(&archived).cloned().collect::<std::collections::BTreeSet<_>>(), ids_before);
}

/// Rows are handled by id: a table whose id is not unique is refused before any work, and
/// a URL whose password breaks its syntax gets the percent-encoding hint, not an echo.
#[test]
fn tables_without_a_unique_id_and_unencoded_passwords_are_one_line() {
    let db = TestDb::new("ops_no_pk");
    db.load_messages(&Spec::new(200, 4));
    let mut c = db.conn();
    c.query_drop("CREATE TABLE no_pk LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE no_pk DROP PRIMARY KEY").unwrap();
    c.query_drop("INSERT INTO no_pk SELECT * FROM broadcast_messages").unwrap();
    let before = db.checksum("no_pk");
    for args in [&["audit"][..], &["dedupe", "--yes"], &["dedupe", "--dry-run"]] {
        db.seqfix()
            .args(["--table", "no_pk"])
            .args(args)
            .run()
            .expect_error("has no primary key or unique index on id alone");
    }
    assert_eq!(db.checksum("no_pk"), before);
    let out = Seqfix::new()
        .args(["--database-url", "mysql://app:S3cr/et@db.example/app", "audit"])
        .run()
        .expect_error("percent-encode");
    assert!(!out.stderr.contains("S3cr"), "{}", out.stderr);
}

/// The docs' `jq '{a, b}'` examples name fields that the command's JSON really has.
#[test]
fn the_docs_jq_examples_name_real_fields() {
    let db = TestDb::new("ops_docs_jq");
    db.load_messages(&Spec::new(300, 6));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for doc in ["README.md", "docs/usage.md", "docs/runbook.md", "docs/cron.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for line in text.lines() {
            let Some((cmd, filter)) = line.split_once(" | jq '{") else { continue };
            let Some(args) = cmd.trim().strip_prefix("seqfix ") else { continue };
            let fields: Vec<&str> = filter.trim_end_matches("}'").split(',').map(str::trim).collect();
            let run = db.seqfix().args(args.split_whitespace()).run();
            assert!(run.code == 0 || run.code == 1, "{doc}: `{cmd}` failed: {}", run.stderr);
            let j = run.json();
            for f in fields {
                assert!(j.get(f).is_some(), "{doc}: `{line}` names {f:?}, which the JSON of `{cmd}` lacks");
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "found the docs' jq examples");
}

/// A host that vanishes holding the dedupe lock (here: the process frozen with SIGSTOP, its
/// connection open and silent) blocks others only until --idle-timeout: the server closes
/// that session, the lock is free, and another run finishes the job with nothing lost.
#[test]
fn a_vanished_lock_holder_frees_its_lock_after_the_idle_timeout() {
    let db = TestDb::new("ops_vanished_holder");
    let rows = db.load_messages(&Spec::new(3_000, 13));
    let exp = Expected::of(&rows);
    let mut child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "40ms", "--no-progress", "--idle-timeout", "10s"])
        .spawn();
    db.wait_archived_more_than(20);
    let mut c = db.conn();
    unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
    let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
    let lock = seqfix::db::dedupe_lock_name(&db.name, &table);
    let frozen = std::time::Instant::now();
    while c.exec_first::<Option<u64>, _, _>("SELECT IS_USED_LOCK(?)", (&lock,)).unwrap().flatten().is_some() {
        assert!(frozen.elapsed().as_secs() < 60, "the vanished holder kept its lock past --idle-timeout");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(frozen.elapsed().as_secs() >= 5, "freed too soon ({:?}): was it the timeout?", frozen.elapsed());
    child.kill().unwrap();
    child.wait().unwrap();
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    let live: u64 = c.query_first("SELECT COUNT(*) FROM broadcast_messages").unwrap().unwrap();
    let archived: u64 = c.query_first("SELECT COUNT(*) FROM seqfix_archive").unwrap().unwrap();
    assert_eq!((live, archived), ((rows.len() - exp.surplus()) as u64, exp.surplus() as u64));
}

/// Every seqfix command line in the README and docs/ (inside code blocks, cron lines
/// included) and in the packaged systemd unit (its ExecStart lines, the commented one too)
/// parses: its subcommand and flags exist and its values are accepted. Pipes, redirections
/// and comments are cut off first.
#[test]
fn every_command_line_in_the_docs_parses() {
    use clap::Parser;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    docs.extend(std::fs::read_dir(root.join("docs")).unwrap().map(|e| e.unwrap().path()));
    docs.push(root.join("packaging/seqfix-process.service"));
    let mut checked = 0;
    let mut bad = Vec::new();
    for doc in docs.iter().filter(|p| p.extension().is_some_and(|e| e == "md" || e == "service")) {
        let text = std::fs::read_to_string(doc).unwrap();
        // A unit file is one block of lines.
        let text = if doc.extension().is_some_and(|e| e == "service") { format!("```\n{text}```\n") } else { text };
        let mut in_code = false;
        let mut block: Vec<String> = Vec::new();
        let mut blocks: Vec<Vec<String>> = Vec::new();
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                if in_code {
                    blocks.push(std::mem::take(&mut block));
                }
                in_code = !in_code;
                continue;
            }
            if in_code {
                // Join continuation lines.
                match block.last_mut() {
                    Some(prev) if prev.ends_with('\\') => {
                        prev.pop();
                        prev.push(' ');
                        prev.push_str(line.trim());
                    }
                    _ => block.push(line.to_string()),
                }
            }
        }
        for block in blocks {
            // In a block with a `$ ` prompt, the other lines are output.
            let prompted = block.iter().any(|l| l.trim_start().starts_with("$ "));
            for line in &block {
                let l = line.trim_start();
                let cmd = if let Some(rest) = l.strip_prefix("$ seqfix ") {
                    rest
                } else if let Some(rest) = l.strip_prefix("seqfix ").filter(|_| !prompted) {
                    rest
                } else if let Some((_, rest)) = l.split_once("bin/seqfix ") {
                    rest
                } else {
                    continue;
                };
                let cmd = [" #", " |", " >", " 2>", ";"].iter().fold(cmd, |c, cut| c.split(cut).next().unwrap());
                let args = shell_words(cmd);
                if let Err(e) = seqfix::cli::Cli::try_parse_from(std::iter::once("seqfix".to_string()).chain(args)) {
                    if e.use_stderr() {
                        let name = doc.strip_prefix(root).unwrap_or(doc).display();
                        bad.push(format!("{name}: `seqfix {cmd}`: {}", e.to_string().lines().next().unwrap()));
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(bad.is_empty(), "doc command lines that do not parse:\n{}", bad.join("\n"));
    assert!(checked > 40, "found the docs' command lines ({checked})");
}

/// Splits a command line as sh would for these simple cases (single and double quotes).
fn shell_words(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for ch in s.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => {
                quote = Some(ch);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// `--version` names the version, the commit the binary was built from and the TLS backend.
#[test]
fn version_names_the_commit_and_the_tls_backend() {
    let out = Seqfix::new().args(["--version"]).run().expect_code(0);
    let line = out.stdout.trim();
    let rest = line
        .strip_prefix(&format!("seqfix {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, tls) = rest.split_once(", TLS ").unwrap_or_else(|| panic!("{line}"));
    assert!(commit == "unknown" || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())), "{line}");
    assert!(tls == "rustls (ring))" || tls == "native-tls (OpenSSL))", "{line}");
    let head = std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head {
        assert_eq!(commit, head, "built from another commit than HEAD: {line}");
    }
}
