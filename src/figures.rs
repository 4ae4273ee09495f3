//! Each command's figures for `--metrics-file`, read from its typed report: what becomes
//! a gauge, under which name and help text. The file itself (families, exposition text,
//! atomic write) is `metrics`; this module only decides what goes in it.
use std::time::Instant;

use crate::audit::AuditReport;
use crate::dedupe::DedupeReport;
use crate::metrics::{b, Metrics};
use crate::process::{Counts, ProcessReport, Skip};
use crate::status::{State, StatusReport};

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
            State::Ok => 0.0,
            State::Warn => 1.0,
            State::Fail => 2.0,
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
        "1 while a seqfix process run holds its lease (on any node) or this server's advisory lock.",
        &[],
        b(r.process_lock.is_some() || r.process_lease.as_ref().is_some_and(|l| l.held)),
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

/// What a dedupe run reports into the metrics file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupeFigures {
    pub duplicate_groups: u64,
    pub deleted_rows: u64,
    pub archived_rows: u64,
    pub skipped_groups: u64,
    pub batches: u64,
    /// A dry run deletes nothing (`seqfix_dry_run` 1).
    pub dry_run: bool,
    /// Ctrl-C: the run stopped between batches, with duplicates left.
    pub interrupted: bool,
}

impl From<&DedupeReport> for DedupeFigures {
    fn from(r: &DedupeReport) -> DedupeFigures {
        DedupeFigures {
            duplicate_groups: r.duplicate_groups,
            deleted_rows: r.deleted_rows,
            archived_rows: r.archived_rows,
            skipped_groups: r.skipped_groups,
            batches: r.batches,
            dry_run: r.dry_run,
            interrupted: r.status == "interrupted",
        }
    }
}

/// The figures of a dedupe run (`dry_run` is a gauge: a dry run deletes nothing).
pub fn dedupe(database: &str, table: &str, f: &DedupeFigures, started: Instant) -> Metrics {
    let mut m = Metrics::for_run(database, table, "dedupe");
    m.gauge("seqfix_duplicate_groups", "Duplicate groups found by the run.", &[], f.duplicate_groups as f64)
        .gauge("seqfix_dedupe_deleted_rows", "Rows the last dedupe deleted.", &[], f.deleted_rows as f64)
        .gauge(
            "seqfix_dedupe_archived_rows",
            "Rows the last dedupe copied into the archive table.",
            &[],
            f.archived_rows as f64,
        )
        .gauge(
            "seqfix_dedupe_skipped_groups",
            "Groups skipped because their kept row changed meanwhile.",
            &[],
            f.skipped_groups as f64,
        )
        .gauge("seqfix_dedupe_batches", "Transactions the last dedupe committed.", &[], f.batches as f64)
        .gauge("seqfix_dry_run", "1 when the run was a --dry-run and changed nothing.", &[], b(f.dry_run));
    m.finish_run(started, !f.interrupted);
    m
}

/// What a process run reports into the metrics file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFigures {
    pub counts: Counts,
    /// Why the run did nothing, if it did nothing.
    pub skipped: Option<Skip>,
    pub lock_acquired: bool,
}

impl From<&ProcessReport> for ProcessFigures {
    fn from(r: &ProcessReport) -> ProcessFigures {
        ProcessFigures { counts: r.counts.clone(), skipped: r.skipped, lock_acquired: r.lock_acquired }
    }
}

/// How `process` sorted the contacts it looked at: each outcome's label and count.
pub fn process_outcomes(c: &Counts) -> [(&'static str, u64); 8] {
    [
        ("queued", c.queued),
        ("already_queued", c.already_queued),
        ("requeued", c.requeued),
        ("requeue_limit", c.requeue_limit),
        ("completed", c.completed),
        ("no_step", c.no_step),
        ("no_lead", c.no_lead),
        ("device_offline", c.device_offline),
    ]
}

/// The figures of a process run: contacts by outcome, and whether the run was skipped
/// (`locked`: another run held the lock; `min_interval`: one ran too recently).
pub fn process(database: &str, table: &str, f: &ProcessFigures, started: Instant) -> Metrics {
    let mut m = Metrics::for_run(database, table, "process");
    for (outcome, n) in process_outcomes(&f.counts) {
        m.gauge(
            "seqfix_process_contacts",
            "Contacts the last process pass handled, by outcome.",
            &[("outcome", outcome)],
            n as f64,
        );
    }
    for (reason, skip) in [("locked", Skip::Locked), ("min_interval", Skip::MinInterval)] {
        m.gauge(
            "seqfix_process_skipped",
            "1 when the last process run did nothing, by reason.",
            &[("reason", reason)],
            b(f.skipped == Some(skip)),
        );
    }
    m.gauge(
        "seqfix_process_lock_acquired",
        "1 when the last process run got the advisory lock and the lease.",
        &[],
        b(f.lock_acquired),
    );
    m.finish_run(started, f.skipped.is_none());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::value;
    use crate::metrics::LAST_SUCCESS;
    use openmetrics_parser::prometheus::parse_prometheus;

    #[test]
    fn dedupe_and_process_figures() {
        let t = Instant::now();
        let dedupe_report = DedupeFigures {
            dry_run: false,
            duplicate_groups: 4,
            deleted_rows: 9,
            archived_rows: 9,
            skipped_groups: 1,
            batches: 2,
            interrupted: false,
        };
        let text = dedupe("app", "broadcast_messages", &dedupe_report, t).render();
        let p = parse_prometheus(&text).unwrap();
        let one = |name: &str| value(&p.families[name].iter_samples().next().unwrap().value);
        assert_eq!(one("seqfix_dedupe_deleted_rows"), 9.0);
        assert_eq!(one("seqfix_duplicate_groups"), 4.0);
        assert_eq!(one("seqfix_dedupe_skipped_groups"), 1.0);
        assert_eq!(one("seqfix_dry_run"), 0.0);
        assert!(p.families.contains_key("seqfix_last_success_timestamp_seconds"));

        let process_report =
            ProcessFigures { lock_acquired: false, skipped: Some(Skip::Locked), counts: Counts::default() };
        let text = process("app", "broadcast_messages", &process_report, t).render();
        let p = parse_prometheus(&text).unwrap();
        let f = &p.families["seqfix_process_contacts"];
        assert_eq!(f.iter_samples().count(), process_outcomes(&Counts::default()).len());
        assert_eq!(f.iter_samples().count(), 8, "one sample per outcome");
        let skipped: Vec<(String, f64)> = p.families["seqfix_process_skipped"]
            .iter_samples()
            .map(|s| (s.get_labelset().unwrap().get_label_value("reason").unwrap().to_string(), value(&s.value)))
            .collect();
        assert!(skipped.contains(&("locked".into(), 1.0)) && skipped.contains(&("min_interval".into(), 0.0)));
    }

    #[test]
    fn a_run_that_did_not_succeed_keeps_the_previous_success_time() {
        let report = DedupeFigures { interrupted: true, dry_run: false, ..DedupeFigures::default() };
        let m = dedupe("db", "t", &report, Instant::now());
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

        let done = DedupeFigures { interrupted: false, dry_run: false, ..DedupeFigures::default() };
        let text = dedupe("db", "t", &done, Instant::now()).render();
        assert!(text.contains(LAST_SUCCESS) && text.contains("command=\"dedupe\"} 1"), "{text}");
    }
}
