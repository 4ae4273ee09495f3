//! `seqfix dedupe --empty-steps-to-null`'s report: the empty steps set to NULL, and how to undo it.
use super::facts;
use crate::dedupe::empty::EmptyStepsReport;

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
    if let Some(cap) = &r.batch_cap {
        rows.push(("batch size (write-set limit)", cap.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dry_run: bool) -> EmptyStepsReport {
        EmptyStepsReport {
            run_id: (!dry_run).then(|| "r1".into()),
            dry_run,
            status: if dry_run { "dry-run" } else { "succeeded" }.into(),
            database: "app".into(),
            table: "msgs".into(),
            archive_table: "arch".into(),
            empty_step_rows: 4,
            colliding_rows: 2,
            nulled_rows: if dry_run { 0 } else { 3 },
            changed_rows: if dry_run { 0 } else { 1 },
            batches: if dry_run { 0 } else { 2 },
            batch_size: 1000,
            batch_cap: None,
            batch_retries: 0,
            batch_times: Default::default(),
            elapsed_ms: 0,
        }
    }

    #[test]
    fn a_finished_run_says_how_to_undo_it() {
        let want = concat!(
            "Empty steps to NULL in app.msgs\n",
            "┌────────────────────────────────────────┬───────────┐\n",
            "│ run id                                 ┆        r1 │\n",
            "│ status                                 ┆ succeeded │\n",
            "│ rows with an empty sequence_stepid     ┆         4 │\n",
            "│ of which the unique index would reject ┆         2 │\n",
            "│ set to NULL (archived)                 ┆         3 │\n",
            "│ changed meanwhile, left alone          ┆         1 │\n",
            "│ archive table                          ┆      arch │\n",
            "│ batches                                ┆         2 │\n",
            "└────────────────────────────────────────┴───────────┘\n",
            "\n",
            "Undo: `seqfix restore --run r1` sets the empty steps back.\n",
        );
        assert_eq!(empty_steps(&report(false)), want);
    }

    #[test]
    fn a_dry_run_says_what_would_change_it() {
        let want = concat!(
            "Empty steps to NULL, dry run (nothing was changed) in app.msgs\n",
            "┌────────────────────────────────────────┬─────────┐\n",
            "│ run id                                 ┆  (none) │\n",
            "│ status                                 ┆ dry-run │\n",
            "│ rows with an empty sequence_stepid     ┆       4 │\n",
            "│ of which the unique index would reject ┆       2 │\n",
            "└────────────────────────────────────────┴─────────┘\n",
            "\n",
            "Next: `seqfix dedupe --empty-steps-to-null` sets these steps to NULL (archived, in batches).\n",
        );
        assert_eq!(empty_steps(&report(true)), want);
    }
}
