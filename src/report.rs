//! The only module that prints reports: a comfy-table rendering for people, or one JSON
//! object for scripts. It never touches the database.
use anyhow::Result;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::audit::{AuditReport, KeyCount};
use crate::cli::Format;
use crate::process::{ProcessReport, Skip};

/// Prints a report in the chosen format.
pub fn emit<T: Serialize>(format: Format, report: &T, render_table: impl Fn(&T) -> String) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Table => print!("{}", render_table(report)),
    }
    Ok(())
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

pub fn ts(t: Option<i64>) -> String {
    match t {
        None => "NULL".into(),
        Some(t) => {
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64);
            humantime::format_rfc3339_seconds(when).to_string().replace('T', " ").replace('Z', " UTC")
        }
    }
}

pub fn audit(r: &AuditReport) -> String {
    let mut out = String::new();
    out += &format!("Duplicate sequence messages in {}.{} ({})\n", r.database, r.table, r.server);
    out += &facts(&[
        ("sequence messages scanned", r.sequence_messages.to_string()),
        ("duplicate groups", r.duplicate_groups.to_string()),
        ("surplus rows (a dedupe deletes these)", r.surplus_rows.to_string()),
        (
            "unique index on (sequence_stepid, recipient_phone, device_id)",
            match &r.unique_index_name {
                Some(n) => format!("present ({n})"),
                None => "missing".into(),
            },
        ),
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
                    Cell::new(ts(c.created_ts)),
                    Cell::new(if k == 0 { "kept" } else { "" }),
                ]);
                t.add_row(row);
            }
        }
        out += &format!("\nLargest duplicate groups\n{t}\n");
    }
    let w = &r.warnings;
    let mut warn: Vec<String> = Vec::new();
    if w.failed_survivor_groups > 0 {
        warn.push(format!(
            "{} groups keep a `failed` row while a newer copy was `sent` (dedupe keeps the oldest row; review them first)",
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
    if !warn.is_empty() {
        out += "\nWarnings\n";
        for line in warn {
            out += &format!("  ! {line}\n");
        }
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
        ("completed", c.completed.to_string()),
        ("no step for the next day", c.no_step.to_string()),
        ("no lead", c.no_lead.to_string()),
        ("device offline", c.device_offline.to_string()),
    ];
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
