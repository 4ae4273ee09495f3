//! `seqfix audit`'s report: the counts, the breakdowns, the largest groups, the warnings
//! and their examples.
use comfy_table::Cell;

use super::{counts, facts, new_table, num, scan_line, survivor_rule, survivor_warnings, ts};
use crate::audit::AuditReport;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{KeyCount, NearDuplicates, SurvivorSummary, Warnings};
    use crate::empty_steps::EmptySteps;
    use crate::report::sample_scan;

    #[test]
    fn counts_breakdowns_warnings_and_what_next() {
        let r = AuditReport {
            database: "app".into(),
            table: "msgs".into(),
            server: "10.11.6-MariaDB".into(),
            sequence_messages: 10,
            duplicate_groups: 1,
            surplus_rows: 2,
            unique_index: false,
            unique_index_name: None,
            by_status: vec![KeyCount { key: "sent".into(), rows: 2 }],
            by_sequence: vec![],
            by_device: vec![],
            by_day: vec![],
            top_groups: vec![],
            survivor: SurvivorSummary { rule: "oldest".into(), ..SurvivorSummary::default() },
            warnings: Warnings { equal_created_groups: 1, ..Warnings::default() },
            near_duplicates: NearDuplicates::default(),
            empty_steps: EmptySteps::default(),
            scan: sample_scan(),
        };
        let want = concat!(
            "Duplicate sequence messages in app.msgs (10.11.6-MariaDB)\n",
            "┌───────────────────────────────────────────────────────────────┬─────────────────────────────────────────────────────────────────────────────────────────────────────┐\n",
            "│ sequence messages scanned                                     ┆                                                                                                  10 │\n",
            "│ duplicate groups                                              ┆                                                                                                   1 │\n",
            "│ surplus rows                                                  ┆                                                                                                   2 │\n",
            "│ survivor rule (--keep)                                        ┆                                                                                              oldest │\n",
            "│ groups keeping a copy other than the oldest                   ┆                                                                                                   0 │\n",
            "│ groups left alone (a status the rule does not rank)           ┆                                                                             0 (0 surplus rows stay) │\n",
            "│ unique index on (sequence_stepid, recipient_phone, device_id) ┆                                                                                             missing │\n",
            "│ scan                                                          ┆ 10 rows in 1 chunks, 4 candidate rows weighed in 1 statements; longest statement 3 ms; one snapshot │\n",
            "└───────────────────────────────────────────────────────────────┴─────────────────────────────────────────────────────────────────────────────────────────────────────┘\n",
            "\n",
            "Surplus rows by status\n",
            "┌────────┬──────────────┐\n",
            "│ status ┆ surplus rows │\n",
            "╞════════╪══════════════╡\n",
            "│ sent   ┆            2 │\n",
            "└────────┴──────────────┘\n",
            "\n",
            "Warnings\n",
            "  ! 1 groups have copies with equal created_at (ties go to the smallest id)\n",
            "\n",
            "Next: `seqfix dedupe --dry-run` shows exactly what a dedupe would delete.\n",
        );
        assert_eq!(audit(&r), want);
    }
}
