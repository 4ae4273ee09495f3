//! The only module that prints reports: a comfy-table rendering for people, or one JSON
//! object for scripts. It never touches the database.
use anyhow::{Context, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::audit::{AuditReport, KeyCount};
use crate::cli::Format;
use crate::dedupe::empty::EmptyStepsReport;
use crate::dedupe::DedupeReport;
use crate::process::{ProcessReport, Skip};
use crate::restore::RestoreReport;

/// Prints a report in the chosen format.
pub fn emit<T: Serialize>(format: Format, report: &T, render_table: impl Fn(&T) -> String) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Table => render_table(report),
    };
    write_stdout(&text)
}

/// Writes to stdout. A reader that went away (`seqfix audit | head`) is not an error: the
/// work is done and the exit status still says how it went. Any other failure is.
fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the report to stdout"),
    }
}

pub fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if !header.is_empty() {
        t.set_header(header.iter().map(Cell::new));
    }
    t
}

fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

/// Key/value table with right-aligned numbers.
pub fn facts(rows: &[(&str, String)]) -> Table {
    let mut t = new_table(&[]);
    for (k, v) in rows {
        t.add_row(vec![Cell::new(k), Cell::new(v).set_alignment(CellAlignment::Right)]);
    }
    t
}

fn counts(title: &str, key: &str, rows: &[KeyCount], limit: usize) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut t = new_table(&[key, "surplus rows"]);
    for r in rows.iter().take(limit) {
        t.add_row(vec![Cell::new(&r.key), num(r.rows)]);
    }
    let more = if rows.len() > limit {
        format!("({} more; --format json lists all)\n", rows.len() - limit)
    } else {
        String::new()
    };
    format!("\n{title}\n{t}\n{more}")
}

pub use crate::when::ts;

/// `sent-first (sent, processing, ...)` or `oldest`.
fn survivor_rule(s: &crate::audit::SurvivorSummary) -> String {
    if s.status_rank.is_empty() {
        s.rule.clone()
    } else {
        format!("{} ({})", s.rule, s.status_rank.join(", "))
    }
}

/// The survivor rule's warnings, for audit and dedupe.
fn survivor_warnings(s: &crate::audit::SurvivorSummary) -> Vec<String> {
    let mut warn = Vec::new();
    if s.resent_by_oldest_groups > 0 {
        let whose = if s.rule == "oldest" { "this rule" } else { "the original rule (--keep oldest)" };
        warn.push(format!(
            "{} groups have an unsent oldest copy beside a sent one: {whose} would keep the unsent copy, delete the sent one, and the senders would deliver the message again",
            s.resent_by_oldest_groups
        ));
    }
    if s.left_alone_groups > 0 {
        let statuses: Vec<String> = s.unknown_statuses.iter().map(|k| format!("{} ({} rows)", k.key, k.rows)).collect();
        warn.push(format!(
            "{} duplicate groups are left alone: they hold statuses the survivor rule does not rank: {}; name the full order with --status-rank, or resolve them by hand (the unique index cannot be added while they last)",
            s.left_alone_groups,
            statuses.join(", ")
        ));
    }
    warn
}

/// How the scan read the table, and what its chunks mean for the counts.
fn scan_line(s: &crate::scan::ScanStats) -> String {
    format!(
        "{} rows in {} chunks, {} candidate rows read again in {} lookups; longest statement {} ms; {}",
        s.rows_read, s.chunks, s.candidate_rows, s.lookups, s.longest_statement_ms, s.snapshot
    )
}

pub fn audit(r: &AuditReport) -> String {
    let mut out = String::new();
    out += &format!("Duplicate sequence messages in {}.{} ({})\n", r.database, r.table, r.server);
    out += &facts(&[
        ("sequence messages scanned", r.sequence_messages.to_string()),
        ("duplicate groups", r.duplicate_groups.to_string()),
        ("surplus rows", r.surplus_rows.to_string()),
        ("survivor rule (--keep)", survivor_rule(&r.survivor)),
        ("groups keeping a copy other than the oldest", r.survivor.kept_not_oldest_groups.to_string()),
        (
            "groups left alone (a status the rule does not rank)",
            format!("{} ({} surplus rows stay)", r.survivor.left_alone_groups, r.survivor.left_alone_rows),
        ),
        (
            "unique index on (sequence_stepid, recipient_phone, device_id)",
            match &r.unique_index_name {
                Some(n) => format!("present ({n})"),
                None => "missing".into(),
            },
        ),
        ("scan", scan_line(&r.scan)),
    ])
    .to_string();
    out.push('\n');
    out += &counts("Surplus rows by status", "status", &r.by_status, 20);
    out += &counts("Surplus rows by sequence", "sequence_id", &r.by_sequence, 10);
    out += &counts("Surplus rows by device", "device_id", &r.by_device, 10);
    out += &counts("Surplus rows by day created (UTC)", "day", &r.by_day, 31);
    if !r.top_groups.is_empty() {
        let mut t =
            new_table(&["#", "copies", "sequence_stepid / device_id / phone", "id", "status", "created_at", "kept"]);
        for (i, g) in r.top_groups.iter().enumerate() {
            for (k, c) in g.copies.iter().enumerate() {
                let head = if k == 0 {
                    vec![
                        Cell::new(i + 1),
                        num(g.copies.len() as u64),
                        Cell::new(format!("{}\n{}\n{}", g.sequence_stepid, g.device_id, g.recipient_phone)),
                    ]
                } else {
                    vec![Cell::new(""), Cell::new(""), Cell::new("")]
                };
                let mut row = head;
                row.extend([
                    Cell::new(&c.id),
                    Cell::new(c.status.as_deref().unwrap_or("NULL")),
                    Cell::new(ts(c.created_us)),
                    Cell::new(match (k, g.left_alone) {
                        (0, false) => "kept",
                        (0, true) => "left alone",
                        _ => "",
                    }),
                ]);
                t.add_row(row);
            }
        }
        out += &format!("\nLargest duplicate groups\n{t}\n");
    }
    let w = &r.warnings;
    let mut warn: Vec<String> = Vec::new();
    warn.extend(survivor_warnings(&r.survivor));
    if w.failed_survivor_groups > 0 {
        warn.push(format!(
            "{} groups keep a `failed` row while another copy was `sent` (--keep oldest keeps the oldest row; review them first)",
            w.failed_survivor_groups
        ));
    }
    if w.null_created_rows > 0 {
        warn.push(format!(
            "{} rows in {} duplicate groups have no created_at (they count as newest)",
            w.null_created_rows, w.null_created_groups
        ));
    }
    if w.equal_created_groups > 0 {
        warn.push(format!(
            "{} groups have copies with equal created_at (ties go to the smallest id)",
            w.equal_created_groups
        ));
    }
    if w.left_by_original_fix_groups > 0 {
        warn.push(format!(
            "the original DELETE ... JOIN fix would leave {} surplus rows in {} groups behind, and the unique index would then fail",
            w.left_by_original_fix_rows, w.left_by_original_fix_groups
        ));
    }
    let n = &r.near_duplicates;
    if n.groups > 0 {
        warn.push(format!(
            "{} near-duplicate groups ({} rows): same step and device, phones that differ only in punctuation or spacing; the unique index will not catch these",
            n.groups, n.rows
        ));
    }
    let e = &r.empty_steps;
    if e.rows > 0 {
        let index = if e.colliding_rows > 0 {
            format!(
                "the unique index treats '' as a value and would reject {} of them ({} groups sharing phone and device): `seqfix dedupe --empty-steps-to-null` sets them to NULL",
                e.colliding_rows, e.colliding_groups
            )
        } else {
            "no two share phone and device, so the unique index accepts them".to_string()
        };
        warn.push(format!(
            "{} rows have an empty sequence_stepid (no sequence to the application, like NULL): they are not counted as duplicates and dedupe leaves them alone; {index}",
            e.rows
        ));
    }
    if !warn.is_empty() {
        out += "\nWarnings\n";
        for line in warn {
            out += &format!("  ! {line}\n");
        }
    }
    if !r.survivor.left_alone_examples.is_empty() {
        let mut t = new_table(&["sequence_stepid", "device_id", "phone", "copies (id: status)"]);
        for g in &r.survivor.left_alone_examples {
            let copies: Vec<String> =
                g.copies.iter().map(|c| format!("{}: {}", c.id, c.status.as_deref().unwrap_or("NULL"))).collect();
            t.add_row(vec![&g.sequence_stepid, &g.device_id, &g.recipient_phone, &copies.join("\n")]);
        }
        out += &format!("\nExamples: groups left alone\n{t}\n");
    }
    if !w.failed_survivor_examples.is_empty() {
        let mut t = new_table(&["sequence_stepid", "device_id", "phone", "kept (failed)", "sent copy"]);
        for g in &w.failed_survivor_examples {
            let sent = g
                .victims()
                .iter()
                .find(|c| c.status.as_deref() == Some("sent"))
                .map(|c| c.id.clone())
                .unwrap_or_default();
            t.add_row(vec![&g.sequence_stepid, &g.device_id, &g.recipient_phone, &g.survivor().id, &sent]);
        }
        out += &format!("\nExamples: kept row failed, newer copy sent\n{t}\n");
    }
    if !e.examples.is_empty() {
        let mut t = new_table(&["device_id", "phone", "rows with an empty sequence_stepid"]);
        for g in &e.examples {
            t.add_row(vec![Cell::new(&g.device_id), Cell::new(&g.recipient_phone), num(g.rows)]);
        }
        out += &format!("\nExamples: empty steps the unique index would reject\n{t}\n");
    }
    if !n.examples.is_empty() {
        let mut t = new_table(&["sequence_stepid", "device_id", "phones", "rows"]);
        for e in &n.examples {
            t.add_row(vec![
                Cell::new(&e.sequence_stepid),
                Cell::new(&e.device_id),
                Cell::new(e.phones.join("\n")),
                num(e.rows),
            ]);
        }
        out += &format!("\nExamples: near-duplicates\n{t}\n");
    }
    if r.surplus_rows > 0 {
        out += "\nNext: `seqfix dedupe --dry-run` shows exactly what a dedupe would delete.\n";
    }
    out
}

/// Text generated elsewhere (completion scripts, man pages), printed as is.
pub fn raw(text: &str) -> Result<()> {
    write_stdout(text)
}

pub fn status(r: &crate::status::StatusReport) -> String {
    use crate::status::State;
    let mut out = format!("seqfix status of {}.{} ({})\n", r.database, r.table, r.server);
    let mut t = new_table(&["check", "state", "detail"]);
    for c in &r.checks {
        let state = match c.state {
            State::Ok => "ok",
            State::Warn => "WARN",
            State::Fail => "FAIL",
        };
        t.add_row(vec![Cell::new(&c.name), Cell::new(state), Cell::new(&c.detail)]);
    }
    out += &format!("{t}\n");
    let failed: Vec<&str> = r.checks.iter().filter(|c| c.state == State::Fail).map(|c| c.name.as_str()).collect();
    if failed.is_empty() {
        out += "healthy\n";
    } else {
        out += &format!("UNHEALTHY: {} failed\n", failed.join(", "));
    }
    out
}
pub fn dedupe(r: &DedupeReport) -> String {
    let mut out = String::new();
    let title = if r.dry_run { "Dedupe dry run (nothing was changed)" } else { "Dedupe" };
    out += &format!("{title} of duplicate sequence messages in {}.{} ({})\n", r.database, r.table, r.server);
    let mut rows: Vec<(&str, String)> = vec![
        ("run id", r.run_id.clone().unwrap_or_else(|| "(dry run: none)".into())),
        ("status", r.status.clone()),
        ("sequence messages scanned", r.sequence_messages.to_string()),
        ("duplicate groups", r.duplicate_groups.to_string()),
        ("surplus rows found", r.surplus_rows.to_string()),
        ("survivor rule (--keep)", survivor_rule(&r.survivor)),
        ("rows to delete (the plan)", r.planned_rows.to_string()),
        (
            "groups left alone (a status the rule does not rank)",
            format!("{} ({} surplus rows stay)", r.survivor.left_alone_groups, r.survivor.left_alone_rows),
        ),
    ];
    if !r.dry_run {
        rows.extend([
            ("deleted rows", r.deleted_rows.to_string()),
            ("archived rows", format!("{} (in {})", r.archived_rows, r.archive_table)),
            (
                "skipped groups (kept row gone or changed)",
                format!("{} ({} rows left)", r.skipped_groups, r.skipped_rows),
            ),
            ("victims already gone / changed", format!("{} / {}", r.vanished_rows, r.changed_rows)),
            ("batches", format!("{} of up to {}", r.batches, r.batch_size)),
            (
                "batch transaction p50 / p99 / max",
                format!("{:.1} / {:.1} / {:.1} ms", r.batch_times.p50_ms, r.batch_times.p99_ms, r.batch_times.max_ms),
            ),
        ]);
        if r.replica_wait_ms > 0 {
            rows.push(("waited for replicas", format!("{:.1} s", r.replica_wait_ms as f64 / 1000.0)));
        }
    }
    rows.push(("elapsed", format!("{:.1} s (scan {:.1} s)", r.elapsed_ms as f64 / 1000.0, r.scan_ms as f64 / 1000.0)));
    rows.push(("scan", scan_line(&r.scan)));
    if let Some(p) = &r.plan_file {
        rows.push(("plan file", p.clone()));
    }
    out += &facts(&rows).to_string();
    out.push('\n');
    out += &counts("Surplus rows by status", "status", &r.by_status, 20);
    if !r.examples.is_empty() {
        let mut t = new_table(&["sequence_stepid / device_id / phone", "kept", "kept because", "deleted"]);
        for g in &r.examples {
            t.add_row(vec![
                Cell::new(format!("{}\n{}\n{}", g.sequence_stepid, g.device_id, g.recipient_phone)),
                Cell::new(format!("{}\n{}", g.kept_id, g.kept_status.as_deref().unwrap_or("NULL"))),
                Cell::new(&g.kept_because),
                Cell::new(g.victim_ids.join("\n")),
            ]);
        }
        out += &format!("\nLargest groups\n{t}\n");
    }
    if !r.skipped_examples.is_empty() {
        let mut t = new_table(&["kept id", "sequence_stepid / device_id / phone", "rows left", "why"]);
        for s in &r.skipped_examples {
            t.add_row(vec![
                Cell::new(&s.kept_id),
                Cell::new(format!("{}\n{}\n{}", s.sequence_stepid, s.device_id, s.recipient_phone)),
                num(s.rows_kept),
                Cell::new(&s.reason),
            ]);
        }
        out += &format!("\nSkipped groups (their copies stay; run dedupe again to re-plan them)\n{t}\n");
    }
    for line in survivor_warnings(&r.survivor) {
        out += &format!("\n  ! {line}\n");
    }
    if r.near_duplicate_groups > 0 {
        out += &format!(
            "\n  ! {} near-duplicate groups (phones differing only in punctuation) are not touched; see `seqfix audit`\n",
            r.near_duplicate_groups
        );
    }
    if r.empty_step_rows > 0 {
        out += &format!(
            "\n  ! {} rows with an empty sequence_stepid (no sequence) are not sequence duplicates and are not touched; `seqfix dedupe --empty-steps-to-null` sets them to NULL\n",
            r.empty_step_rows
        );
    }
    if r.dry_run && r.surplus_rows > 0 {
        out += "\nNext: `seqfix dedupe` deletes these rows (archived, in batches).\n";
    } else if let (false, Some(id)) = (r.dry_run, &r.run_id) {
        if r.archived_rows > 0 {
            out += &format!("\nUndo: `seqfix restore --run {id}` puts the archived rows back.\n");
        }
    }
    out
}

pub fn empty_steps(r: &EmptyStepsReport) -> String {
    let mut out = String::new();
    let title = if r.dry_run { "Empty steps to NULL, dry run (nothing was changed)" } else { "Empty steps to NULL" };
    out += &format!("{title} in {}.{}\n", r.database, r.table);
    let mut rows: Vec<(&str, String)> = vec![
        ("run id", r.run_id.clone().unwrap_or_else(|| "(none)".into())),
        ("status", r.status.clone()),
        ("rows with an empty sequence_stepid", r.empty_step_rows.to_string()),
        ("of which the unique index would reject", r.colliding_rows.to_string()),
    ];
    if !r.dry_run {
        rows.extend([
            ("set to NULL (archived)", r.nulled_rows.to_string()),
            ("changed meanwhile, left alone", r.changed_rows.to_string()),
            ("archive table", r.archive_table.clone()),
            ("batches", r.batches.to_string()),
        ]);
    }
    out += &facts(&rows).to_string();
    out.push('\n');
    if r.dry_run && r.empty_step_rows > 0 {
        out += "\nNext: `seqfix dedupe --empty-steps-to-null` sets these steps to NULL (archived, in batches).\n";
    } else if let (false, Some(id)) = (r.dry_run, &r.run_id) {
        if r.nulled_rows > 0 {
            out += &format!("\nUndo: `seqfix restore --run {id}` sets the empty steps back.\n");
        }
    }
    out
}

pub fn restore(r: &RestoreReport) -> String {
    let mut out = String::new();
    let title = if r.dry_run { "Restore dry run (nothing was changed)" } else { "Restore" };
    out += &format!("{title} of the rows dedupe run {} archived, into {}.{}\n", r.run_id, r.database, r.table);
    out += &facts(&[
        ("status", r.status.clone()),
        ("archived rows of the run", format!("{} (in {})", r.archived_rows, r.archive_table)),
        ("restored rows", r.restored_rows.to_string()),
        ("changed since, left as they are (still archived)", r.left_rows.to_string()),
        ("batches", r.batches.to_string()),
        ("elapsed", format!("{:.1} s", r.elapsed_ms as f64 / 1000.0)),
    ])
    .to_string();
    out.push('\n');
    out += &counts("Archived rows by status", "status", &r.by_status, 20);
    out
}

/// The one line on stderr for a refusal (exit 1): the database is not in the state needed.
pub fn refusal(line: &str) {
    eprintln!("seqfix: {line}");
}

pub fn migrate(r: &crate::migrate::MigrateReport) -> String {
    use crate::migrate::Action;
    let mut out = String::new();
    let what = match (r.action, r.dry_run) {
        (Action::Status, _) => "Migrations",
        (Action::Up, true) => "Migrate (dry run: nothing is changed)",
        (Action::Up, false) => "Migrate",
        (Action::Down, true) => "Revert (dry run: nothing is changed)",
        (Action::Down, false) => "Revert",
    };
    out += &format!("{what} of {}.{} ({})\n", r.database, r.table, r.server);
    let mut t = new_table(&["version", "name", "state", "started", "finished", "by", "host", "ms"]);
    for m in &r.migrations {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        t.add_row(vec![
            Cell::new(m.version),
            Cell::new(&m.name),
            Cell::new(
                serde_json::to_value(m.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            ),
            Cell::new(opt(&m.started_at)),
            Cell::new(opt(&m.finished_at)),
            Cell::new(opt(&m.installed_by)),
            Cell::new(opt(&m.host)),
            Cell::new(m.execution_ms.map(|n| n.to_string()).unwrap_or_default()),
        ]);
    }
    out += &format!("{t}\n");
    out += &format!(
        "unique index on (sequence_stepid, recipient_phone, device_id): {}\n",
        r.unique_index.as_deref().map(|n| format!("present ({n})")).unwrap_or_else(|| "missing".into())
    );
    if !r.preflight.is_empty() {
        let mut p = new_table(&["preflight", "result", "detail"]);
        for c in &r.preflight {
            let status = serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_string));
            p.add_row(vec![Cell::new(c.name), Cell::new(status.unwrap_or_default()), Cell::new(&c.detail)]);
        }
        out += &format!("\n{p}\n");
    }
    if !r.long_transactions.is_empty() {
        let mut lt = new_table(&["connection", "user", "host", "db", "open (s)", "query"]);
        for x in &r.long_transactions {
            lt.add_row(vec![
                Cell::new(x.connection_id),
                Cell::new(&x.user),
                Cell::new(&x.host),
                Cell::new(&x.db),
                num(x.age_s),
                Cell::new(if x.query.is_empty() { &x.command } else { &x.query }),
            ]);
        }
        out += &format!("\nLong transactions\n{lt}\n");
    }
    if !r.sql.is_empty() {
        out += &format!("\n{}\n", if r.dry_run { "SQL that would run:" } else { "SQL run:" });
        for s in &r.sql {
            out += &format!("{};\n", s.trim_end());
        }
    }
    for n in &r.notes {
        out += &format!("\n  ! {n}");
    }
    if !r.notes.is_empty() {
        out.push('\n');
    }
    let list = |v: &[u32]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    out += &format!(
        "\napplied now: {}; already applied: {}; pending: {}",
        list(&r.applied),
        list(&r.already_applied),
        list(&r.pending)
    );
    if !r.recorded.is_empty() {
        out += &format!("; recorded without building: {}", list(&r.recorded));
    }
    if r.action == Action::Down {
        out += &format!("; {}: {}", if r.dry_run { "would revert" } else { "reverted" }, list(&r.reverted));
    }
    out.push('\n');
    if let Some(ms) = r.build_ms {
        out += &format!("preflight {} ms, DDL {} ms in {} attempt(s)\n", r.preflight_ms, ms, r.attempts);
    }
    out
}

pub fn process(r: &ProcessReport) -> String {
    let mut out = String::new();
    let what = if r.dry_run { "Sequence processing (dry run: nothing written)" } else { "Sequence processing" };
    out += &format!("{what} in {}.{}\n", r.database, r.table);
    if let Some(skip) = r.skipped {
        let why = match skip {
            Skip::Locked => format!(
                "skipped: another run holds the lock {} (connection {})",
                r.lock_name,
                r.lock_holder.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into())
            ),
            Skip::MinInterval => format!(
                "skipped: a process run started {:.1}s ago (--min-interval)",
                r.last_run_seconds_ago.unwrap_or(0.0)
            ),
        };
        out += &why;
        out.push('\n');
        return out;
    }
    let c = &r.counts;
    let mut rows = vec![
        ("run", r.run_id.clone().unwrap_or_else(|| "(dry run, not recorded)".into())),
        ("guard", r.guard.clone()),
        ("due contacts", r.due.to_string()),
        ("batches", r.batches.to_string()),
        (if r.dry_run { "would queue" } else { "queued" }, c.queued.to_string()),
        ("already queued (contact advanced)", c.already_queued.to_string()),
        (
            if r.dry_run { "would re-queue (copy had failed)" } else { "re-queued (copy had failed)" },
            c.requeued.to_string(),
        ),
        ("completed", c.completed.to_string()),
        ("no step for the next day", c.no_step.to_string()),
        ("no lead", c.no_lead.to_string()),
        ("device offline", c.device_offline.to_string()),
    ];
    if c.requeue_limit > 0 {
        rows.push(("failed too often, not re-queued (contact advanced)", c.requeue_limit.to_string()));
    }
    if c.changed > 0 {
        rows.push(("changed by another writer (left for the next pass)", c.changed.to_string()));
    }
    rows.push(("seconds", format!("{:.2}", r.elapsed_seconds)));
    out += &facts(&rows).to_string();
    out.push('\n');
    if r.without_index {
        out += "  ! no unique index on (sequence_stepid, recipient_phone, device_id): the advisory lock is the only guard against duplicates; run `seqfix migrate`\n";
    }
    if r.interrupted {
        out += "  ! interrupted: stopped after a whole batch; the next pass continues\n";
    }
    out
}
