//! `seqfix restore`'s report: what came back from the archive, batch by batch.
use super::{counts, facts};
use crate::restore::RestoreReport;

pub fn restore(r: &RestoreReport) -> String {
    let mut out = String::new();
    let title = if r.dry_run { "Restore dry run (nothing was changed)" } else { "Restore" };
    out += &format!("{title} of the rows dedupe run {} archived, into {}.{}\n", r.run_id, r.database, r.table);
    let mut rows = vec![
        ("status", r.status.clone()),
        ("archived rows of the run", format!("{} (in {})", r.archived_rows, r.archive_table)),
        ("restored rows", r.restored_rows.to_string()),
        ("changed since, left as they are (still archived)", r.left_rows.to_string()),
        ("batches", r.batches.to_string()),
    ];
    if let Some(cap) = &r.batch_cap {
        rows.push(("batch size (write-set limit)", cap.to_string()));
    }
    rows.push(("elapsed", format!("{:.1} s", r.elapsed_ms as f64 / 1000.0)));
    out += &facts(&rows).to_string();
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
            batch_size: 1000,
            batch_cap: None,
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

    #[test]
    fn a_batch_size_capped_by_a_write_set_limit_is_stated() {
        use crate::db::{WriteSetLimit, WriteSetUnit};
        let limit = WriteSetLimit { variable: "wsrep_max_ws_rows", value: 1500, unit: WriteSetUnit::Rows };
        let (batch_size, batch_cap) = crate::dedupe::txn::cap_batch_size(1000, &[limit], 1000).unwrap();
        let r = RestoreReport {
            run_id: "r1".into(),
            restore_run_id: Some("r2".into()),
            dry_run: false,
            status: "succeeded".into(),
            database: "app".into(),
            table: "msgs".into(),
            archive_table: "arch".into(),
            archived_rows: 1400,
            restored_rows: 1400,
            left_rows: 0,
            batches: 2,
            batch_size,
            batch_cap,
            batch_times: Default::default(),
            by_status: Vec::new(),
            elapsed_ms: 10,
        };
        let text = restore(&r);
        assert!(text.contains("batch size 1000 capped to 700 by wsrep_max_ws_rows = 1500"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!((json["batch_size"].as_u64(), json["batch_cap"]["capped_to"].as_u64()), (Some(700), Some(700)));
    }
}
