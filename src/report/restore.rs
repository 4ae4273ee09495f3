//! `seqfix restore`'s report: what came back from the archive, batch by batch.
use super::{counts, facts};
use crate::restore::RestoreReport;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::KeyCount;

    #[test]
    fn a_finished_restore_names_the_run_its_counts_and_the_statuses() {
        let r = RestoreReport {
            run_id: "r1".into(),
            restore_run_id: Some("r2".into()),
            dry_run: false,
            status: "succeeded".into(),
            database: "app".into(),
            table: "msgs".into(),
            archive_table: "arch".into(),
            archived_rows: 3,
            restored_rows: 2,
            left_rows: 1,
            batches: 1,
            batch_times: Default::default(),
            by_status: vec![KeyCount { key: "sent".into(), rows: 2 }],
            elapsed_ms: 1500,
        };
        let want = concat!(
            "Restore of the rows dedupe run r1 archived, into app.msgs\n",
            "┌──────────────────────────────────────────────────┬─────────────┐\n",
            "│ status                                           ┆   succeeded │\n",
            "│ archived rows of the run                         ┆ 3 (in arch) │\n",
            "│ restored rows                                    ┆           2 │\n",
            "│ changed since, left as they are (still archived) ┆           1 │\n",
            "│ batches                                          ┆           1 │\n",
            "│ elapsed                                          ┆       1.5 s │\n",
            "└──────────────────────────────────────────────────┴─────────────┘\n",
            "\n",
            "Archived rows by status\n",
            "┌────────┬──────────────┐\n",
            "│ status ┆ surplus rows │\n",
            "╞════════╪══════════════╡\n",
            "│ sent   ┆            2 │\n",
            "└────────┴──────────────┘\n",
        );
        assert_eq!(restore(&r), want);
    }
}
