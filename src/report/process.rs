//! `seqfix process`'s report: why a pass was skipped, or what it did to the due contacts.
use super::facts;
use crate::process::{ProcessReport, Skip};

pub fn process(r: &ProcessReport) -> String {
    let mut out = String::new();
    let what = if r.dry_run { "Sequence processing (dry run: nothing written)" } else { "Sequence processing" };
    out += &format!("{what} in {}.{}\n", r.database, r.table);
    if let Some(skip) = r.skipped {
        let why = match skip {
            Skip::Locked => {
                let lease = r.lease.as_ref().filter(|l| l.held).map(crate::lease::describe);
                match (r.lock_holder, lease) {
                    (Some(conn), lease) => format!(
                        "skipped: another run on this node holds the lock {} (connection {conn}){}",
                        r.lock_name,
                        lease.map(|l| format!("; the lease is {l}")).unwrap_or_default()
                    ),
                    (None, Some(l)) => format!("skipped: another run holds the lease: {l}"),
                    (None, None) => "skipped: another run claimed the lease at the same moment".into(),
                }
            }
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
        ("lease", lease_line(r)),
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
        out += "  ! no unique index on (sequence_stepid, recipient_phone, device_id): the lease is the only guard against duplicates; run `seqfix migrate`\n";
    }
    if r.interrupted {
        out += "  ! interrupted: stopped after a whole batch; the next pass continues\n";
    }
    out
}

/// This run's lease in one cell: fence and node (a dry run claims none).
fn lease_line(r: &ProcessReport) -> String {
    match (&r.lease, r.dry_run) {
        (Some(l), false) => format!("fence {} on {}, {}s per renewal", l.fence, l.node, r.lease_seconds),
        (_, true) => "none (dry run)".into(),
        (None, false) => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::LeaseView;
    use crate::process::Counts;

    fn lease(holder: &str, held: bool) -> LeaseView {
        LeaseView {
            name: "process".into(),
            holder: holder.into(),
            node: "node2 (db2:3306)".into(),
            client_host: "cron2".into(),
            pid: 4242,
            fence: 17,
            renewals: 5,
            claimed: Some(1_700_000_000),
            expires_in_seconds: Some(290.0),
            held,
        }
    }

    fn report() -> ProcessReport {
        ProcessReport {
            run_id: None,
            database: "app".into(),
            table: "msgs".into(),
            lock_name: "seqfix.process.app".into(),
            lock_acquired: true,
            lock_holder: None,
            lease: None,
            lease_seconds: 300,
            skipped: None,
            last_run_seconds_ago: None,
            dry_run: true,
            without_index: true,
            guard: "lease only".into(),
            due: 5,
            batches: 1,
            counts: Counts { queued: 2, requeued: 1, completed: 1, no_lead: 1, changed: 3, ..Counts::default() },
            interrupted: true,
            elapsed_seconds: 0.25,
        }
    }

    #[test]
    fn a_skipped_pass_says_who_holds_the_lock() {
        let r = ProcessReport {
            skipped: Some(Skip::Locked),
            lock_holder: Some(7),
            lock_acquired: false,
            dry_run: false,
            ..report()
        };
        assert_eq!(
            process(&r),
            concat!(
                "Sequence processing in app.msgs\n",
                "skipped: another run on this node holds the lock seqfix.process.app (connection 7)\n",
            )
        );
        let r = ProcessReport { lease: Some(lease("r9", true)), ..r };
        assert_eq!(
            process(&r),
            concat!(
                "Sequence processing in app.msgs\n",
                "skipped: another run on this node holds the lock seqfix.process.app (connection 7); the lease is ",
                "held by run r9 on node2 (db2:3306) (seqfix on cron2, pid 4242), fence 17, expires in 4m 50s, ",
                "renewed 5 times\n",
            )
        );
    }

    #[test]
    fn a_skipped_pass_says_who_holds_the_lease() {
        let r = ProcessReport {
            skipped: Some(Skip::Locked),
            lock_acquired: false,
            dry_run: false,
            lease: Some(lease("r9", true)),
            ..report()
        };
        assert_eq!(
            process(&r),
            concat!(
                "Sequence processing in app.msgs\n",
                "skipped: another run holds the lease: held by run r9 on node2 (db2:3306) (seqfix on cron2, pid ",
                "4242), fence 17, expires in 4m 50s, renewed 5 times\n",
            )
        );
        // Lost the race to a claim at the same moment: nothing to name.
        let r = ProcessReport { lease: None, ..r };
        assert_eq!(
            process(&r),
            "Sequence processing in app.msgs\nskipped: another run claimed the lease at the same moment\n"
        );
    }

    #[test]
    fn a_pass_names_its_lease() {
        let r = ProcessReport {
            dry_run: false,
            without_index: false,
            interrupted: false,
            lease: Some(lease("r1", true)),
            ..report()
        };
        let text = process(&r);
        assert!(text.contains("│ lease "), "{text}");
        assert!(text.contains("fence 17 on node2 (db2:3306), 300s per renewal │"), "{text}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["lease"]["fence"], 17);
        assert_eq!(j["lease"]["node"], "node2 (db2:3306)");
        assert_eq!(j["lease"]["holder"], "r1");
        assert_eq!(j["lease_seconds"], 300);
    }

    #[test]
    fn a_dry_run_counts_what_it_would_do_and_warns_of_the_missing_index() {
        let want = concat!(
            "Sequence processing (dry run: nothing written) in app.msgs\n",
            "┌────────────────────────────────────────────────────┬─────────────────────────┐\n",
            "│ run                                                ┆ (dry run, not recorded) │\n",
            "│ guard                                              ┆              lease only │\n",
            "│ lease                                              ┆          none (dry run) │\n",
            "│ due contacts                                       ┆                       5 │\n",
            "│ batches                                            ┆                       1 │\n",
            "│ would queue                                        ┆                       2 │\n",
            "│ already queued (contact advanced)                  ┆                       0 │\n",
            "│ would re-queue (copy had failed)                   ┆                       1 │\n",
            "│ completed                                          ┆                       1 │\n",
            "│ no step for the next day                           ┆                       0 │\n",
            "│ no lead                                            ┆                       1 │\n",
            "│ device offline                                     ┆                       0 │\n",
            "│ changed by another writer (left for the next pass) ┆                       3 │\n",
            "│ seconds                                            ┆                    0.25 │\n",
            "└────────────────────────────────────────────────────┴─────────────────────────┘\n",
            "  ! no unique index on (sequence_stepid, recipient_phone, device_id): the lease is the only guard against duplicates; run `seqfix migrate`\n",
            "  ! interrupted: stopped after a whole batch; the next pass continues\n",
        );
        assert_eq!(process(&report()), want);
    }
}
