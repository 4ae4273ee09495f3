//! The only module that prints reports: a comfy-table rendering for people, or one JSON
//! object for scripts. It never touches the database. One renderer per command, each in a
//! child with a unit test of its text; here the output itself and the pieces they share.
use anyhow::{Context, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::audit::KeyCount;
use crate::cli::Format;

mod audit;
mod dedupe;
mod empty_steps;
mod migrate;
mod process;
mod restore;
mod status;

pub use audit::audit;
pub use dedupe::dedupe;
pub use empty_steps::empty_steps;
pub use migrate::migrate;
pub use process::process;
pub use restore::restore;
pub use status::status;

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
        "{} rows in {} chunks, {} candidate rows weighed in {} statements; longest statement {} ms; {}",
        s.rows_read, s.chunks, s.candidate_rows, s.lookups, s.longest_statement_ms, s.snapshot
    )
}

/// A scan's figures for the renderers' tests: "10 rows in 1 chunks, 4 candidate rows read
/// again in 1 lookups; longest statement 3 ms; one snapshot".
#[cfg(test)]
fn sample_scan() -> crate::scan::ScanStats {
    crate::scan::ScanStats {
        chunks: 1,
        rows_read: 10,
        candidate_rows: 4,
        lookups: 1,
        longest_statement_ms: 3,
        snapshot: "one snapshot",
        ..Default::default()
    }
}

/// Text generated elsewhere (completion scripts, man pages), printed as is.
pub fn raw(text: &str) -> Result<()> {
    write_stdout(text)
}

/// The one line on stderr for a refusal (exit 1): the database is not in the state needed.
pub fn refusal(line: &str) {
    eprintln!("seqfix: {line}");
}
