//! `seqfix dedupe`'s report: the plan, what the batches did, the examples and the warnings.
use comfy_table::Cell;

use super::{counts, facts, new_table, num, scan_line, survivor_rule, survivor_warnings};
use crate::dedupe::DedupeReport;

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
    if let Some(cap) = &r.batch_cap {
        rows.push(("batch size (write-set limit)", cap.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{KeyCount, SurvivorSummary};
    use crate::dedupe::GroupExample;
    use crate::report::sample_scan;

    #[test]
    fn a_dry_run_shows_the_plan_its_largest_groups_and_what_next() {
        let r = DedupeReport {
            run_id: None,
            dry_run: true,
            status: "dry-run".into(),
            database: "app".into(),
            table: "msgs".into(),
            archive_table: "arch".into(),
            server: "10.11.6-MariaDB".into(),
            sequence_messages: 10,
            duplicate_groups: 2,
            surplus_rows: 3,
            planned_rows: 3,
            survivor: SurvivorSummary {
                rule: "sent-first".into(),
                status_rank: vec!["sent".into(), "queued".into()],
                ..SurvivorSummary::default()
            },
            batch_size: 1000,
            scan_ms: 200,
            scan: sample_scan(),
            elapsed_ms: 500,
            by_status: vec![KeyCount { key: "queued".into(), rows: 3 }],
            examples: vec![GroupExample {
                sequence_stepid: "s1".into(),
                recipient_phone: "601".into(),
                device_id: "d1".into(),
                kept_id: "k1".into(),
                kept_status: Some("sent".into()),
                kept_because: "status".into(),
                victim_ids: vec!["v1".into(), "v2".into()],
            }],
            near_duplicate_groups: 1,
            ..DedupeReport::default()
        };
        let want = concat!(
            "Dedupe dry run (nothing was changed) of duplicate sequence messages in app.msgs (10.11.6-MariaDB)\n",
            "┌─────────────────────────────────────────────────────┬─────────────────────────────────────────────────────────────────────────────────────────────────────┐\n",
            "│ run id                                              ┆                                                                                     (dry run: none) │\n",
            "│ status                                              ┆                                                                                             dry-run │\n",
            "│ sequence messages scanned                           ┆                                                                                                  10 │\n",
            "│ duplicate groups                                    ┆                                                                                                   2 │\n",
            "│ surplus rows found                                  ┆                                                                                                   3 │\n",
            "│ survivor rule (--keep)                              ┆                                                                           sent-first (sent, queued) │\n",
            "│ rows to delete (the plan)                           ┆                                                                                                   3 │\n",
            "│ groups left alone (a status the rule does not rank) ┆                                                                             0 (0 surplus rows stay) │\n",
            "│ elapsed                                             ┆                                                                                  0.5 s (scan 0.2 s) │\n",
            "│ scan                                                ┆ 10 rows in 1 chunks, 4 candidate rows weighed in 1 statements; longest statement 3 ms; one snapshot │\n",
            "└─────────────────────────────────────────────────────┴─────────────────────────────────────────────────────────────────────────────────────────────────────┘\n",
            "\n",
            "Surplus rows by status\n",
            "┌────────┬──────────────┐\n",
            "│ status ┆ surplus rows │\n",
            "╞════════╪══════════════╡\n",
            "│ queued ┆            3 │\n",
            "└────────┴──────────────┘\n",
            "\n",
            "Largest groups\n",
            "┌─────────────────────────────────────┬──────┬──────────────┬─────────┐\n",
            "│ sequence_stepid / device_id / phone ┆ kept ┆ kept because ┆ deleted │\n",
            "╞═════════════════════════════════════╪══════╪══════════════╪═════════╡\n",
            "│ s1                                  ┆ k1   ┆ status       ┆ v1      │\n",
            "│ d1                                  ┆ sent ┆              ┆ v2      │\n",
            "│ 601                                 ┆      ┆              ┆         │\n",
            "└─────────────────────────────────────┴──────┴──────────────┴─────────┘\n",
            "\n",
            "  ! 1 near-duplicate groups (phones differing only in punctuation) are not touched; see `seqfix audit`\n",
            "\n",
            "Next: `seqfix dedupe` deletes these rows (archived, in batches).\n",
        );
        assert_eq!(dedupe(&r), want);
    }

    #[test]
    fn a_batch_size_capped_by_a_write_set_limit_is_stated() {
        use crate::db::{WriteSetLimit, WriteSetUnit};
        let limit = WriteSetLimit { variable: "wsrep_max_ws_rows", value: 1500, unit: WriteSetUnit::Rows };
        let (batch_size, batch_cap) = crate::dedupe::txn::cap_batch_size(1000, &[limit], 1000).unwrap();
        let r =
            DedupeReport { status: "succeeded".into(), batch_size, batch_cap, batches: 3, ..DedupeReport::default() };
        let text = dedupe(&r);
        let line = text.lines().find(|l| l.contains("batch size (write-set limit)")).expect(&text);
        assert!(
            line.contains("batch size 1000 capped to 700 by wsrep_max_ws_rows = 1500 (2 write-set rows per victim)"),
            "{line}"
        );
        assert!(text.contains("3 of up to 700"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["batch_size"], 700);
        assert_eq!(json["batch_cap"]["requested"], 1000);
        assert_eq!(json["batch_cap"]["capped_to"], 700);
        assert_eq!(json["batch_cap"]["variable"], "wsrep_max_ws_rows");
        assert_eq!(json["batch_cap"]["value"], 1500);
        assert!(!dedupe(&DedupeReport::default()).contains("write-set limit"));
    }
}
