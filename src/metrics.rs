//! `--metrics-file`: a run's figures in the Prometheus text exposition format (0.0.4), for
//! node_exporter's textfile collector or any scraper that reads files.
//!
//! The file is written to `PATH.tmp.<pid>` in the same directory and then renamed over
//! `PATH`: rename(2) within one file system is atomic, so a scraper sees either the old
//! file or the new one, never half of one. The collector reads only `*.prom`, so the
//! temporary name is never scraped. Mode is 0644 (the collector often runs as another user).
//!
//! The pattern for a command: build a `Metrics` with `Metrics::for_run(database, table,
//! command)` (the three labels every sample carries), add the report's figures, then
//! `finish_run(started, succeeded)` adds `seqfix_run_duration_seconds`,
//! `seqfix_last_run_succeeded` and `seqfix_last_success_timestamp_seconds`. `audit` below is the example to follow.
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::audit::AuditReport;
use crate::status::StatusReport;

/// The metric that says when a command last did its job.
pub const LAST_SUCCESS: &str = "seqfix_last_success_timestamp_seconds";

/// The two metric types seqfix emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

/// Metric families in the order they were first added, each with its samples.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Labels every sample carries (database, table, command), before its own.
    base: Vec<(String, String)>,
    families: Vec<Family>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// A set for one run: every sample carries `database`, `table` and `command` labels,
    /// so one textfile directory can hold the files of several databases and commands.
    pub fn for_run(database: &str, table: &str, command: &str) -> Metrics {
        let mut m = Metrics::new();
        m.base = vec![
            ("database".into(), database.into()),
            ("table".into(), table.into()),
            ("command".into(), command.into()),
        ];
        m
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Metrics {
        self.add(Kind::Gauge, name, help, labels, value)
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Metrics {
        self.add(Kind::Counter, name, help, labels, value)
    }

    /// Adds a sample; samples of one name form one family (one HELP and TYPE line).
    /// Names are chosen by seqfix's code, not by users, so a bad one is a bug: panic.
    fn add(&mut self, kind: Kind, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Metrics {
        assert!(valid_name(name, true), "invalid metric name {name:?}");
        let mut all = self.base.clone();
        for (k, v) in labels {
            assert!(valid_name(k, false) && !k.starts_with("__"), "invalid label name {k:?}");
            all.retain(|(b, _)| b != k);
            all.push((k.to_string(), v.to_string()));
        }
        match self.families.iter_mut().find(|f| f.name == name) {
            Some(f) => {
                assert_eq!(f.kind, kind, "metric {name} added as both gauge and counter");
                f.samples.push((all, value));
            }
            None => {
                self.families.push(Family { name: name.into(), help: help.into(), kind, samples: vec![(all, value)] })
            }
        }
        self
    }

    /// Adds the figures every run ends with: how long it took, whether it did its job, and
    /// when this command last did (alert on `time() - seqfix_last_success_timestamp_seconds`).
    /// A failed run writes no file; a run that ended without doing its job (an interrupted
    /// dedupe, a process run skipped because another held the lock) writes
    /// `seqfix_last_run_succeeded 0` and keeps the previous file's timestamp
    /// (`write_atomic`), so in both cases the timestamp ages and the alert fires.
    pub fn finish_run(&mut self, started: Instant, succeeded: bool) -> &mut Metrics {
        self.gauge(
            "seqfix_run_duration_seconds",
            "Wall-clock duration of the seqfix run.",
            &[],
            secs(started.elapsed()),
        );
        self.gauge(
            "seqfix_last_run_succeeded",
            "1 when the last run of this command did its job; 0 when it was interrupted or skipped.",
            &[],
            b(succeeded),
        );
        if succeeded {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
            self.last_success(now.as_secs() as f64);
        }
        self
    }

    fn last_success(&mut self, unix_secs: f64) -> &mut Metrics {
        self.gauge(LAST_SUCCESS, "Unix time at which this seqfix command last finished successfully.", &[], unix_secs)
    }

    /// The value of this set's own `seqfix_last_success_timestamp_seconds` sample (same
    /// labels) in a previously written exposition text, if it has one. Pure.
    pub fn previous_success(&self, previous: &str) -> Option<f64> {
        let mut probe = Metrics { base: self.base.clone(), families: Vec::new() };
        let line = probe.last_success(0.0).render();
        let (sample, _) = line.lines().find(|l| !l.starts_with('#'))?.rsplit_once(' ')?;
        previous.lines().filter_map(|l| l.rsplit_once(' ')).find(|(s, _)| *s == sample)?.1.parse().ok()
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for (labels, value) in &f.samples {
                out += &f.name;
                if !labels.is_empty() {
                    let body: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v))).collect();
                    let _ = write!(out, "{{{}}}", body.join(","));
                }
                let _ = writeln!(out, " {}", format_value(*value));
            }
        }
        out
    }

    /// Writes the file atomically: temporary file in the same directory, fsync, rename.
    /// A run that did not succeed carries over the last success time of the file it replaces.
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        let mut metrics = self.clone();
        if !self.families.iter().any(|f| f.name == LAST_SUCCESS) {
            let previous = std::fs::read_to_string(path).ok();
            if let Some(t) = previous.and_then(|text| self.previous_success(&text)) {
                metrics.last_success(t);
            }
        }
        let tmp = temp_path(path);
        let result = write_then_rename(&metrics.render(), &tmp, path);
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.with_context(|| {
            format!(
                "cannot write the metrics file {} (check that its directory exists and is writable)",
                path.display()
            )
        })
    }
}

fn write_then_rename(text: &str, tmp: &Path, path: &Path) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(tmp)?;
    // Explicitly, whatever the umask: the collector usually runs as another user.
    f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(tmp, path)?;
    Ok(())
}

/// `PATH.tmp.<pid>`: same directory (rename is atomic only within a file system), a name
/// the textfile collector ignores, and unique per process so two runs never share it.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp.{}", std::process::id()));
    path.with_file_name(name)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn valid_name(name: &str, metric: bool) -> bool {
    let mut chars = name.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (metric && c == ':');
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':');
    matches!(chars.next(), Some(c) if ok_first(c)) && chars.all(ok_rest)
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// HELP text escapes backslash and line feed only.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Go's float syntax: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Display never uses an exponent and prints integral values without ".0".
        format!("{v}")
    }
}

fn b(flag: bool) -> f64 {
    if flag {
        1.0
    } else {
        0.0
    }
}

/// The figures of an audit.
pub fn audit(r: &AuditReport, started: Instant) -> Metrics {
    let mut m = Metrics::for_run(&r.database, &r.table, "audit");
    m.gauge(
        "seqfix_sequence_messages",
        "Sequence messages (sequence_stepid not NULL) in the table.",
        &[],
        r.sequence_messages as f64,
    )
    .gauge(
        "seqfix_duplicate_groups",
        "Groups of rows sharing (sequence_stepid, recipient_phone, device_id).",
        &[],
        r.duplicate_groups as f64,
    )
    .gauge("seqfix_surplus_rows", "Surplus rows: every copy of a duplicate group but one.", &[], r.surplus_rows as f64)
    .gauge(
        "seqfix_unique_index_present",
        "1 when the unique index on (sequence_stepid, recipient_phone, device_id) exists.",
        &[],
        b(r.unique_index),
    )
    .gauge(
        "seqfix_near_duplicate_groups",
        "Groups of one step and device whose phones differ only in punctuation or spacing.",
        &[],
        r.near_duplicates.groups as f64,
    )
    .gauge(
        "seqfix_left_alone_groups",
        "Duplicate groups the survivor rule leaves alone: a copy's status is one it does not rank.",
        &[],
        r.survivor.left_alone_groups as f64,
    );
    for kc in &r.by_status {
        m.gauge(
            "seqfix_surplus_rows_by_status",
            "Surplus rows by their status.",
            &[("status", &kc.key)],
            kc.rows as f64,
        );
    }
    m.finish_run(started, true);
    m
}

/// The figures of a status run, for `--metrics-file`.
pub fn status(r: &StatusReport, started: Instant) -> Metrics {
    let mut m = Metrics::for_run(&r.database, &r.table, "status");
    m.gauge("seqfix_status_healthy", "1 when no status check failed.", &[], b(r.healthy));
    for c in &r.checks {
        let v = match c.state {
            crate::status::State::Ok => 0.0,
            crate::status::State::Warn => 1.0,
            crate::status::State::Fail => 2.0,
        };
        m.gauge("seqfix_status_check", "State of each status check: 0 ok, 1 warn, 2 fail.", &[("check", &c.name)], v);
    }
    if let Some(present) = r.unique_index {
        m.gauge(
            "seqfix_unique_index_present",
            "1 when the unique index on (sequence_stepid, recipient_phone, device_id) exists.",
            &[],
            b(present),
        );
    }
    if let (Some(g), Some(s)) = (r.duplicate_groups, r.surplus_rows) {
        m.gauge(
            "seqfix_duplicate_groups",
            "Groups of rows sharing (sequence_stepid, recipient_phone, device_id).",
            &[],
            g as f64,
        );
        m.gauge("seqfix_surplus_rows", "Surplus rows: every copy of a duplicate group but one.", &[], s as f64);
    }
    if let Some(mig) = &r.migrations {
        m.gauge("seqfix_pending_migrations", "Migrations not applied yet.", &[], mig.pending.len() as f64);
        m.gauge(
            "seqfix_failed_migrations",
            "Migrations recorded as failed or half-done.",
            &[],
            mig.failed.len() as f64,
        );
    }
    if let Some(n) = r.overdue_contacts {
        m.gauge(
            "seqfix_overdue_contacts",
            "Active contacts whose next step has been due for longer than --stale-after.",
            &[],
            n as f64,
        );
    }
    m.gauge(
        "seqfix_process_lock_held",
        "1 while a seqfix process run holds its advisory lock.",
        &[],
        b(r.process_lock.is_some()),
    );
    for run in &r.last_runs {
        m.gauge(
            "seqfix_last_run_start_timestamp_seconds",
            "Unix time at which the latest run of each command started, by its status.",
            &[("run_command", &run.command), ("run_status", &run.status)],
            run.started as f64,
        );
    }
    m.finish_run(started, true);
    m
}

/// One figure of a report that becomes a gauge: the report's JSON field, the metric name
/// and its help text. Reports are read through their JSON form so that a command's
/// metrics need only the field names its issue fixes, not its report type.
pub struct Figure {
    pub field: &'static str,
    pub metric: &'static str,
    pub help: &'static str,
}

const fn fig(field: &'static str, metric: &'static str, help: &'static str) -> Figure {
    Figure { field, metric, help }
}

/// What `dedupe` reports (its JSON has at least these fields).
pub const DEDUPE_FIGURES: &[Figure] = &[
    fig("duplicate_groups", "seqfix_duplicate_groups", "Duplicate groups found by the run."),
    fig("deleted_rows", "seqfix_dedupe_deleted_rows", "Rows the last dedupe deleted."),
    fig("archived_rows", "seqfix_dedupe_archived_rows", "Rows the last dedupe copied into the archive table."),
    fig("skipped_groups", "seqfix_dedupe_skipped_groups", "Groups skipped because their kept row changed meanwhile."),
    fig("batches", "seqfix_dedupe_batches", "Transactions the last dedupe committed."),
];

/// How `process` sorted the contacts it looked at (its JSON has at least these fields).
pub const PROCESS_OUTCOMES: &[&str] =
    &["queued", "already_queued", "requeued", "requeue_limit", "completed", "no_step", "no_lead", "device_offline"];

/// Adds `figures` read from `report`'s JSON form; a field that is missing or not a number
/// is logged and left out rather than failing the run.
pub fn add_figures(m: &mut Metrics, report: &impl serde::Serialize, figures: &[Figure]) -> Result<()> {
    let json = serde_json::to_value(report).context("cannot read the report's figures for the metrics file")?;
    for f in figures {
        match json.get(f.field).and_then(|v| v.as_f64().or_else(|| v.as_bool().map(b))) {
            Some(v) => {
                m.gauge(f.metric, f.help, &[], v);
            }
            None => log::warn!("the report has no number {:?}; {} left out of the metrics file", f.field, f.metric),
        }
    }
    Ok(())
}

/// The figures of a dedupe run (`dry_run` is a label: a dry run deletes nothing).
pub fn dedupe(database: &str, table: &str, report: &impl serde::Serialize, started: Instant) -> Result<Metrics> {
    let mut m = Metrics::for_run(database, table, "dedupe");
    add_figures(&mut m, report, DEDUPE_FIGURES)?;
    let json = serde_json::to_value(report)?;
    let dry = json.get("dry_run").and_then(|v| v.as_bool()).unwrap_or(false);
    m.gauge("seqfix_dry_run", "1 when the run was a --dry-run and changed nothing.", &[], b(dry));
    // Ctrl-C: the run stopped between batches, with duplicates left.
    let interrupted = json.get("status").and_then(|v| v.as_str()) == Some("interrupted");
    m.finish_run(started, !interrupted);
    Ok(m)
}

/// The figures of a process run: contacts by outcome, and whether the run was skipped
/// (`locked`: another run held the lock; `min_interval`: one ran too recently).
pub fn process(database: &str, table: &str, report: &impl serde::Serialize, started: Instant) -> Result<Metrics> {
    let json = serde_json::to_value(report).context("cannot read the report's figures for the metrics file")?;
    let mut m = Metrics::for_run(database, table, "process");
    for outcome in PROCESS_OUTCOMES {
        match json.get(*outcome).and_then(|v| v.as_f64()) {
            Some(n) => {
                m.gauge(
                    "seqfix_process_contacts",
                    "Contacts the last process pass handled, by outcome.",
                    &[("outcome", outcome)],
                    n,
                );
            }
            None => log::warn!("the process report has no number {outcome:?}; left out of the metrics file"),
        }
    }
    let skipped = json.get("skipped").and_then(|v| v.as_str());
    for reason in ["locked", "min_interval"] {
        m.gauge(
            "seqfix_process_skipped",
            "1 when the last process run did nothing, by reason.",
            &[("reason", reason)],
            b(skipped == Some(reason)),
        );
    }
    if let Some(v) = json.get("lock_acquired").and_then(|v| v.as_bool()) {
        m.gauge("seqfix_process_lock_acquired", "1 when the last process run got the advisory lock.", &[], b(v));
    }
    m.finish_run(started, skipped.is_none());
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmetrics_parser::prometheus::parse_prometheus;
    use openmetrics_parser::{PrometheusType, PrometheusValue};

    fn value(v: &PrometheusValue) -> f64 {
        match v {
            PrometheusValue::Gauge(n) => n.as_f64(),
            PrometheusValue::Counter(c) => c.value.as_f64(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn renders_families_with_help_type_and_labels() {
        let mut m = Metrics::for_run("app", "broadcast_messages", "audit");
        m.gauge("seqfix_x", "An x.", &[], 3.0).counter("seqfix_y_total", "Some y.", &[("reason", "no_lead")], 7.0);
        m.counter("seqfix_y_total", "Some y.", &[("reason", "device_offline")], 1.5);
        let text = m.render();
        assert_eq!(
            text,
            "# HELP seqfix_x An x.\n# TYPE seqfix_x gauge\n\
             seqfix_x{database=\"app\",table=\"broadcast_messages\",command=\"audit\"} 3\n\
             # HELP seqfix_y_total Some y.\n# TYPE seqfix_y_total counter\n\
             seqfix_y_total{database=\"app\",table=\"broadcast_messages\",command=\"audit\",reason=\"no_lead\"} 7\n\
             seqfix_y_total{database=\"app\",table=\"broadcast_messages\",command=\"audit\",reason=\"device_offline\"} 1.5\n"
        );
        let parsed = parse_prometheus(&text).unwrap();
        assert_eq!(parsed.families["seqfix_x"].family_type, PrometheusType::Gauge);
        assert_eq!(parsed.families["seqfix_y_total"].family_type, PrometheusType::Counter);
        assert_eq!(parsed.families["seqfix_y_total"].iter_samples().count(), 2);
    }

    #[test]
    fn escapes_label_values_and_help_per_the_format() {
        let nasty = "a\\b\"c\nd";
        let mut m = Metrics::new();
        m.gauge("seqfix_t", "help with \\ and\nnewline", &[("v", nasty)], 1.0);
        let text = m.render();
        assert!(text.contains(r#"seqfix_t{v="a\\b\"c\nd"} 1"#), "{text}");
        // An independent parser reads the escaped value back unchanged.
        let parsed = parse_prometheus(&text).unwrap();
        let f = &parsed.families["seqfix_t"];
        assert_eq!(f.help, "help with \\ and\nnewline");
        let s = f.iter_samples().next().unwrap();
        assert_eq!(s.get_labelset().unwrap().get_label_value("v"), Some(nasty));
        assert_eq!(value(&s.value), 1.0);
    }

    #[test]
    fn values_use_go_float_syntax() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1_000_000.0), "1000000");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1_764_000_000.0), "1764000000");
    }

    #[test]
    #[should_panic(expected = "invalid metric name")]
    fn refuses_bad_names() {
        Metrics::new().gauge("seqfix-bad", "x", &[], 1.0);
    }

    #[test]
    fn dedupe_and_process_figures_from_their_json() {
        let t = Instant::now();
        let dedupe_report = serde_json::json!({
            "run_id": "r", "dry_run": false, "duplicate_groups": 4, "deleted_rows": 9,
            "archived_rows": 9, "skipped_groups": 1, "batches": 2
        });
        let text = dedupe("app", "broadcast_messages", &dedupe_report, t).unwrap().render();
        let p = parse_prometheus(&text).unwrap();
        let one = |name: &str| value(&p.families[name].iter_samples().next().unwrap().value);
        assert_eq!(one("seqfix_dedupe_deleted_rows"), 9.0);
        assert_eq!(one("seqfix_duplicate_groups"), 4.0);
        assert_eq!(one("seqfix_dedupe_skipped_groups"), 1.0);
        assert_eq!(one("seqfix_dry_run"), 0.0);
        assert!(p.families.contains_key("seqfix_last_success_timestamp_seconds"));

        let process_report = serde_json::json!({
            "run_id": "r", "lock_acquired": false, "skipped": "locked", "queued": 0, "already_queued": 0, "requeued": 0, "requeue_limit": 0,
            "completed": 0, "no_step": 0, "no_lead": 0, "device_offline": 0
        });
        let text = process("app", "broadcast_messages", &process_report, t).unwrap().render();
        let p = parse_prometheus(&text).unwrap();
        let f = &p.families["seqfix_process_contacts"];
        assert_eq!(f.iter_samples().count(), PROCESS_OUTCOMES.len());
        let skipped: Vec<(String, f64)> = p.families["seqfix_process_skipped"]
            .iter_samples()
            .map(|s| (s.get_labelset().unwrap().get_label_value("reason").unwrap().to_string(), value(&s.value)))
            .collect();
        assert!(skipped.contains(&("locked".into(), 1.0)) && skipped.contains(&("min_interval".into(), 0.0)));
    }

    #[test]
    fn writes_atomically_with_mode_0644() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seqfix.prom");
        std::fs::write(&path, "old").unwrap();
        let mut m = Metrics::new();
        m.gauge("seqfix_a", "A.", &[], 1.0);
        m.write_atomic(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), m.render());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(names, ["seqfix.prom"], "no temporary file is left behind");
        assert!(temp_path(&path).to_string_lossy().ends_with(&format!("seqfix.prom.tmp.{}", std::process::id())));
        let err = m.write_atomic(&dir.path().join("missing/x.prom")).unwrap_err();
        assert!(format!("{err:#}").contains("cannot write the metrics file"), "{err:#}");
        assert!(crate::config::check_metrics_path(&dir.path().join("missing/x.prom")).is_err());
        assert!(crate::config::check_metrics_path(dir.path()).is_err());
        assert!(crate::config::check_metrics_path(&path).is_ok());
    }

    #[test]
    fn a_run_that_did_not_succeed_keeps_the_previous_success_time() {
        let report = serde_json::json!({"status": "interrupted", "dry_run": false});
        let m = dedupe("db", "t", &report, Instant::now()).unwrap();
        let text = m.render();
        assert!(!text.contains(LAST_SUCCESS), "{text}");
        assert!(text.contains("seqfix_last_run_succeeded{database=\"db\",table=\"t\",command=\"dedupe\"} 0"), "{text}");

        let mut ok = Metrics::for_run("db", "t", "dedupe");
        ok.last_success(1_700_000_000.0);
        let mut other = Metrics::for_run("db", "t", "process");
        other.last_success(1_800_000_000.0);
        // Only the sample with the same labels counts.
        let previous = other.render() + &ok.render();
        assert_eq!(m.previous_success(&previous), Some(1_700_000_000.0));
        assert_eq!(m.previous_success(&other.render()), None);
        assert_eq!(m.previous_success("garbage\n"), None);

        let done = serde_json::json!({"status": "succeeded", "dry_run": false});
        let text = dedupe("db", "t", &done, Instant::now()).unwrap().render();
        assert!(text.contains(LAST_SUCCESS) && text.contains("command=\"dedupe\"} 1"), "{text}");
    }
}
