//! `--metrics-file`: a run's figures in the Prometheus text exposition format (0.0.4), for
//! node_exporter's textfile collector or any scraper that reads files.
//!
//! The file is written to `PATH.tmp.<pid>` in the same directory and then renamed over
//! `PATH`: rename(2) within one file system is atomic, so a scraper sees either the old
//! file or the new one, never half of one. The collector reads only `*.prom`, so the
//! temporary name is never scraped. Mode is 0644 (the collector often runs as another user).
//!
//! This module is the writer only: metric families, the exposition text, the atomic write.
//! It knows no command; each command's figures, read from its typed report, are in
//! `figures` (the path check is `config::check_metrics_path`).
//!
//! The pattern for a command: build a `Metrics` with `Metrics::for_run(database, table,
//! command)` (the three labels every sample carries), add the report's figures, then
//! `finish_run(started, succeeded)` adds `seqfix_run_duration_seconds`,
//! `seqfix_last_run_succeeded` and `seqfix_last_success_timestamp_seconds`. `figures::audit`
//! is the example to follow.
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

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

    /// Adds `seqfix_last_success_timestamp_seconds` (`finish_run` does, for a run that succeeded).
    pub fn last_success(&mut self, unix_secs: f64) -> &mut Metrics {
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

/// A flag as a gauge's value: 1 or 0.
pub fn b(flag: bool) -> f64 {
    if flag {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openmetrics_parser::prometheus::parse_prometheus;
    use openmetrics_parser::{PrometheusType, PrometheusValue};

    /// A gauge's or a counter's value, as a parsed metrics file holds it.
    pub(crate) fn value(v: &PrometheusValue) -> f64 {
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
}
