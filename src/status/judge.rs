//! The pure half of `status`: how findings are judged (ok, warn or fail), with unit tests
//! that need no server.
use std::time::Duration;

use super::{check, Check, Cluster, LastRun, LockHolder, Migrations, State, RUN_DEAD_AFTER};
use crate::db::GaleraNode;
use crate::lease::LeaseView;
use crate::migrate::plan::{self as migrate_plan, HistoryRow, Migration, State as MigrationState};

/// "1 unique_sequence_message, 2 ..." for the versions given (named as the migrations
/// compiled into this seqfix name them).
pub fn migration_names(versions: &[String]) -> String {
    let embedded = migrate_plan::embedded();
    let name =
        |v: &str| embedded.iter().find(|m| same_version(&m.version.to_string(), v)).map(|m| m.name).unwrap_or("");
    versions.iter().map(|v| format!("{v} {}", name(v)).trim().to_string()).collect::<Vec<_>>().join(", ")
}

/// Versions compare as numbers when both are numbers ("0001" is "1").
pub fn same_version(a: &str, b: &str) -> bool {
    match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// The pure half of `pending_migrations`: where each migration stands by the history, as
/// `seqfix migrate` decides it (`migrate::plan::state_of`): pending unless applied; failed
/// when its last attempt failed or never finished. A history `migrate::plan` refuses (a
/// changed checksum, a version this seqfix does not know, a gap) is the problem to report.
pub fn migrations_of(migrations: &[Migration], history: &[HistoryRow]) -> Migrations {
    let state = |m: &Migration| migrate_plan::state_of(history.iter().find(|r| r.version == m.version));
    let versions = |keep: &dyn Fn(MigrationState) -> bool| {
        migrations.iter().filter(|m| keep(state(m))).map(|m| m.version.to_string()).collect()
    };
    Migrations {
        pending: versions(&|s| s != MigrationState::Applied),
        failed: versions(&|s| matches!(s, MigrationState::Failed | MigrationState::Unfinished)),
        history: true,
        problem: migrate_plan::plan(migrations, history).err().map(|e| crate::outcome::error_line(&e)),
    }
}

/// Judges the last run of a command.
pub fn classify_run(run: &LastRun) -> Check {
    let name = format!("last_run.{}", run.command);
    let when = crate::when::ts(Some(run.started));
    let who = format!("on {} (pid {}, run {})", run.host, run.pid, run.run_id);
    match run.status.as_str() {
        "succeeded" => check(&name, State::Ok, format!("succeeded, started {when} {who}")),
        "failed" => check(
            &name,
            State::Fail,
            format!("failed, started {when} {who}; its error is in seqfix_runs.summary; fix it and run it again"),
        ),
        "interrupted" => {
            check(&name, State::Warn, format!("interrupted, started {when} {who}; running it again finishes the job"))
        }
        "running" if run.lock_free == Some(true) => check(
            &name,
            State::Warn,
            format!(
                "interrupted: started {when} {who}, still marked running but its lock is free, so its process or \
                 connection is gone (killed, or the host lost); what it committed stays and what it had open \
                 the server rolled back: {}",
                resume_hint(&run.command, &run.run_id)
            ),
        ),
        "running" => {
            let old = run.age_seconds >= RUN_DEAD_AFTER.as_secs() as i64;
            if old && run.lock_free.is_none() {
                check(
                    &name,
                    State::Fail,
                    format!(
                        "died without finishing: started {when} {who}, still marked running after {}",
                        human(run.age_seconds)
                    ),
                )
            } else {
                check(&name, State::Ok, format!("running now, started {when} {who}"))
            }
        }
        other => check(&name, State::Warn, format!("unknown status {other:?}, started {when} {who}")),
    }
}

/// What finishes the work of a run that stopped early.
fn resume_hint(command: &str, run_id: &str) -> String {
    match command {
        "dedupe" => "run `seqfix dedupe` again to finish the job".into(),
        "restore" => format!("run `seqfix restore --run {run_id}` again to finish putting the rows back"),
        "migrate" => "run `seqfix migrate` again (it recovers the unfinished migration from the schema)".into(),
        "process" => "the next `seqfix process` pass picks up where it stopped".into(),
        other => format!("run `seqfix {other}` again"),
    }
}

/// Judges the cluster mode. A Galera node is fine for `process`: its runs exclude each other
/// through the lease, a row the cluster certifies. Multi-primary Group Replication would
/// certify it too, but seqfix has not been tested there: a warning.
pub fn classify_cluster(c: &Cluster) -> Check {
    match c {
        Cluster::Standalone => check("cluster", State::Ok, "standalone (not a replica, not in a cluster)"),
        Cluster::Galera => check(
            "cluster",
            State::Ok,
            "Galera node: `seqfix process` may run against any node (the lease in seqfix_leases is the cluster's)",
        ),
        Cluster::GroupReplication { single_primary: true } => {
            check("cluster", State::Ok, "Group Replication, single-primary")
        }
        Cluster::GroupReplication { single_primary: false } => check(
            "cluster",
            State::Warn,
            "Group Replication, multi-primary: `seqfix process` relies on the lease's certification here, which \
             seqfix has not been tested on; point every cron job at one member to be sure",
        ),
        Cluster::Replica { source } => {
            check("cluster", State::Warn, format!("replica of {source}: run commands that write against the primary"))
        }
        Cluster::Unknown { reason } => check("cluster", State::Warn, reason.clone()),
    }
}

/// Flow control that paused replication for more than this fraction of the time (since the
/// last `FLUSH STATUS`) warns: some node cannot keep up, and every node's writes wait for it.
pub const FLOW_CONTROL_WARN: f64 = 0.1;

/// Judges a Galera node's view of its cluster, in three checks. A component without quorum
/// (not `Primary`) refuses queries; a node that is not `Synced` (a donor, desynced, still
/// joining) lags the cluster and is no node to run seqfix against: both fail. Flow control
/// pauses only warn: the cluster works, slowly.
pub fn galera_checks(g: &GaleraNode) -> Vec<Check> {
    let nodes = if g.cluster_size == 1 { "1 node".to_string() } else { format!("{} nodes", g.cluster_size) };
    let cluster = if g.cluster_status == "Primary" {
        check("galera.cluster", State::Ok, format!("{nodes}, Primary component (has quorum)"))
    } else {
        check(
            "galera.cluster",
            State::Fail,
            format!(
                "this node's component ({nodes}) is {} (wsrep_cluster_status), not Primary: it has lost quorum and refuses queries until it rejoins a Primary component",
                if g.cluster_status.is_empty() { "unknown" } else { &g.cluster_status }
            ),
        )
    };
    let state = g.local_state.as_str();
    let node = match state {
        "Synced" => check("galera.node", State::Ok, "Synced"),
        "Donor/Desynced" => check(
            "galera.node",
            State::Fail,
            "Donor/Desynced (wsrep_local_state_comment): the node is serving a state transfer or was desynced (wsrep_desync), so it lags the cluster and flow control ignores it; point seqfix at a Synced node",
        ),
        _ => check(
            "galera.node",
            State::Fail,
            format!(
                "{} (wsrep_local_state_comment), not Synced: the node has not caught up with the cluster; point seqfix at a Synced node",
                if state.is_empty() { "unknown" } else { state }
            ),
        ),
    };
    let paused = g.flow_control_paused;
    let share = format!("{:.1}%", paused * 100.0);
    let flow = if paused > FLOW_CONTROL_WARN {
        check(
            "galera.flow_control",
            State::Warn,
            format!(
                "replication paused {share} of the time since the last FLUSH STATUS (wsrep_flow_control_paused {paused}): a node cannot keep up, and writes on every node wait for it"
            ),
        )
    } else {
        check(
            "galera.flow_control",
            State::Ok,
            format!("replication paused {share} of the time since the last FLUSH STATUS"),
        )
    };
    vec![cluster, node, flow]
}

pub fn human(secs: i64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(0) as u64)).to_string()
}

/// Duplicates found by a full scan fail the status.
pub fn duplicates_check(groups: u64, surplus: u64) -> Check {
    if groups == 0 {
        return check("duplicates", State::Ok, "none found (full scan)");
    }
    check(
        "duplicates",
        State::Fail,
        format!("{groups} duplicate groups, {surplus} surplus rows (`seqfix audit` for details, `seqfix dedupe` to remove them)"),
    )
}

/// A failed migration fails the status; pending ones warn (the index check fails anyway
/// while the unique index is missing).
pub fn migrations_check(m: Option<&Migrations>) -> Check {
    match m {
        None => check("migrations", State::Warn, "not checked: seqfix_schema_history could not be read"),
        Some(Migrations { problem: Some(why), .. }) => check("migrations", State::Fail, why.clone()),
        Some(m) if !m.failed.is_empty() => check(
            "migrations",
            State::Fail,
            format!(
                "migration {} failed or is half-recorded in seqfix_schema_history (see `seqfix migrate --status`)",
                m.failed.join(", ")
            ),
        ),
        Some(m) if !m.pending.is_empty() => check(
            "migrations",
            State::Warn,
            format!("pending: {} (`seqfix migrate --dry-run`, then `seqfix migrate`)", migration_names(&m.pending)),
        ),
        Some(m) if !m.history => check("migrations", State::Ok, "none pending (the unique index exists)"),
        Some(_) => check("migrations", State::Ok, "all applied"),
    }
}

/// Who holds the process lease (the cluster's) and this node's advisory lock: information,
/// never a failure, since a pass holds both while it runs.
pub fn lock_check(lease: Option<&LeaseView>, holder: Option<&LockHolder>) -> Check {
    let local = holder.map(|h| {
        let who = match (&h.user, &h.host) {
            (Some(u), Some(host)) => format!(" ({u}@{host}, {}s in its current state)", h.time_seconds.unwrap_or(0)),
            _ => " (its user is not visible without the PROCESS privilege)".into(),
        };
        format!("held by connection {}{who}", h.connection_id)
    });
    let detail = match (lease, local) {
        (Some(l), Some(local)) => format!("lease {}; on this node the lock is {local}", crate::lease::describe(l)),
        (Some(l), None) if l.held => format!("lease {}", crate::lease::describe(l)),
        (Some(l), None) => format!("{} (no `seqfix process` running)", crate::lease::describe(l)),
        (None, Some(local)) => local,
        (None, None) => "free (no `seqfix process` running; no lease claimed yet)".into(),
    };
    check("process_lock", State::Ok, detail)
}

/// Who holds the lease of dedupe, restore and `dedupe --empty-steps-to-null` on the table
/// (the cluster's): information, never a failure.
pub fn dedupe_lease_check(lease: Option<&LeaseView>) -> Check {
    let detail = match lease {
        Some(l) if l.held => format!("lease {}", crate::lease::describe(l)),
        Some(l) => format!("{} (no dedupe or restore running)", crate::lease::describe(l)),
        None => "free (no dedupe or restore running; no lease claimed yet)".into(),
    };
    check("dedupe_lock", State::Ok, detail)
}

/// Contacts due for longer than `stale_after` mean processing has stalled: a failure.
pub fn overdue_check(overdue: Option<(u64, Option<i64>)>, stale_after: Duration) -> Check {
    let stale = human(stale_after.as_secs() as i64);
    match overdue {
        None => check("overdue_contacts", State::Warn, "not checked: no sequence_contacts/sequences tables"),
        Some((0, _)) => check("overdue_contacts", State::Ok, format!("none due for longer than {stale}")),
        Some((n, oldest)) => check(
            "overdue_contacts",
            State::Fail,
            format!(
                "{n} active contacts due for longer than {stale} (oldest due since {}): is `seqfix process` running from cron?",
                crate::when::ts(oldest)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    fn run(status: &str, age: i64, lock_free: Option<bool>) -> LastRun {
        LastRun {
            command: "process".into(),
            run_id: "r1".into(),
            status: status.into(),
            host: "h".into(),
            pid: 1,
            db_user: "u".into(),
            started: 1_700_000_000,
            finished: None,
            age_seconds: age,
            lock_free,
        }
    }

    #[test]
    fn classifies_runs() {
        assert_eq!(classify_run(&run("succeeded", 10, None)).state, State::Ok);
        assert_eq!(classify_run(&run("failed", 10, None)).state, State::Fail);
        assert_eq!(classify_run(&run("interrupted", 10, None)).state, State::Warn);
        // Lock free while the row says running (read twice): the run is gone, at any age.
        for age in [60, 7 * 3600] {
            let gone = classify_run(&run("running", age, Some(true)));
            assert_eq!(gone.state, State::Warn);
            assert!(
                gone.detail.starts_with("interrupted") && gone.detail.contains("seqfix process"),
                "{}",
                gone.detail
            );
        }
        assert_eq!(classify_run(&run("running", 60, Some(false))).state, State::Ok, "lock held: still going");
        assert_eq!(classify_run(&run("running", 7 * 3600, Some(false))).state, State::Ok, "lock held: still going");
        assert_eq!(classify_run(&run("running", 60, None)).state, State::Ok, "no lock known, young: may be going");
        let dead = classify_run(&run("running", 7 * 3600, None));
        assert!(dead.detail.contains("died without finishing"), "{}", dead.detail);
        assert_eq!(classify_run(&run("running", 7 * 3600, None)).state, State::Fail, "no lock known: age decides");
        assert_eq!(classify_run(&run("succeeded", 1, None)).name, "last_run.process");
    }

    fn migration(version: u32, name: &'static str) -> Migration {
        Migration { version, name, up: name, down: name }
    }

    /// A history row as `seqfix migrate` leaves it: one per migration, the last attempt's.
    fn row(m: &Migration, success: bool, finished: bool) -> HistoryRow {
        HistoryRow {
            version: m.version,
            name: m.name.into(),
            checksum: m.checksum(),
            started_at: "2026-01-01 00:00:00".into(),
            finished_at: finished.then(|| "2026-01-01 00:00:01".into()),
            success,
            installed_by: "app@%".into(),
            host: "h".into(),
            seqfix_version: "0".into(),
            execution_ms: None,
            error: None,
        }
    }

    #[test]
    fn plans_migrations_from_history() {
        let known = [migration(1, "unique"), migration(2, "next")];
        let m = migrations_of(&known, &[]);
        assert_eq!((m.pending, m.failed), (vec!["1".to_string(), "2".to_string()], vec![]));
        let m = migrations_of(&known, &[row(&known[0], true, true)]);
        assert_eq!(m.pending, ["2"]);
        let m = migrations_of(&known, &[row(&known[0], true, true), row(&known[1], false, true)]);
        assert_eq!((m.pending, m.failed), (vec!["2".to_string()], vec!["2".to_string()]));
        // a failed attempt followed by a successful one is applied, not failed (the
        // successful attempt replaced the failed one's row)
        let m = migrations_of(&known, &[row(&known[0], true, true), row(&known[1], true, true)]);
        assert!(m.pending.is_empty() && m.failed.is_empty() && m.problem.is_none(), "{m:?}");
    }

    #[test]
    fn a_migration_that_never_finished_is_failed() {
        let known = [migration(1, "unique")];
        let m = migrations_of(&known, &[row(&known[0], false, false)]);
        assert_eq!((m.pending, m.failed), (vec!["1".to_string()], vec!["1".to_string()]));
    }

    #[test]
    fn a_history_migrate_refuses_fails_the_check_with_its_reason() {
        let known = [migration(1, "unique")];
        let mut changed = row(&known[0], true, true);
        changed.checksum = "0000000000000000".into();
        let m = migrations_of(&known, &[changed]);
        let c = migrations_check(Some(&m));
        assert_eq!(c.state, State::Fail);
        assert!(c.detail.contains("checksum"), "{}", c.detail);
        let newer = row(&migration(9, "newer"), true, true);
        let m = migrations_of(&known, &[newer]);
        assert!(m.problem.as_deref().is_some_and(|p| p.contains("newer seqfix")), "{m:?}");
    }

    #[test]
    fn names_the_migrations_compiled_in() {
        assert_eq!(migration_names(&["1".into()]), "1 unique_sequence_message");
        assert_eq!(migration_names(&["0001".into(), "7".into()]), "0001 unique_sequence_message, 7");
    }

    #[test]
    fn judges_findings() {
        assert_eq!(duplicates_check(0, 0).state, State::Ok);
        assert_eq!(duplicates_check(2, 5).state, State::Fail);
        let m = |pending: &[&str], failed: &[&str], history| Migrations {
            pending: pending.iter().map(|s| s.to_string()).collect(),
            failed: failed.iter().map(|s| s.to_string()).collect(),
            history,
            problem: None,
        };
        assert_eq!(migrations_check(None).state, State::Warn);
        assert_eq!(migrations_check(Some(&m(&["1"], &["1"], true))).state, State::Fail);
        let pending = migrations_check(Some(&m(&["1"], &[], false)));
        assert_eq!(pending.state, State::Warn);
        assert!(pending.detail.contains("1 unique_sequence_message"), "{}", pending.detail);
        assert_eq!(migrations_check(Some(&m(&[], &[], true))).detail, "all applied");
        let h = LockHolder {
            connection_id: 42,
            user: Some("app".into()),
            host: Some("10.0.0.5:5123".into()),
            time_seconds: Some(3),
        };
        let c = lock_check(None, Some(&h));
        assert_eq!(
            (c.state, c.detail.as_str()),
            (State::Ok, "held by connection 42 (app@10.0.0.5:5123, 3s in its current state)")
        );
        assert!(lock_check(None, None).detail.starts_with("free"));
        let lease = LeaseView {
            name: "process".into(),
            holder: "r7".into(),
            node: "node3 (db3:3306)".into(),
            client_host: "cron3".into(),
            pid: 99,
            fence: 12,
            renewals: 2,
            claimed: Some(1_700_000_000),
            expires_in_seconds: Some(120.0),
            held: true,
        };
        let c = lock_check(Some(&lease), None);
        assert_eq!(
            (c.state, c.detail.as_str()),
            (
                State::Ok,
                "lease held by run r7 on node3 (db3:3306) (seqfix on cron3, pid 99), fence 12, expires in 2m, renewed 2 times"
            )
        );
        let c = lock_check(Some(&lease), Some(&h));
        assert!(
            c.detail.ends_with(
                "; on this node the lock is held by connection 42 (app@10.0.0.5:5123, 3s in its current state)"
            ),
            "{}",
            c.detail
        );
        let free = LeaseView { held: false, expires_in_seconds: Some(-30.0), ..lease };
        let c = lock_check(Some(&free), None);
        assert_eq!(c.state, State::Ok);
        assert_eq!(
            c.detail,
            "free: last held by run r7 on node3 (db3:3306) (seqfix on cron3, pid 99), fence 12, free since 30s ago \
             (no `seqfix process` running)"
        );
        let two_hours = Duration::from_secs(7200);
        assert_eq!(overdue_check(None, two_hours).state, State::Warn);
        assert_eq!(overdue_check(Some((0, None)), two_hours).detail, "none due for longer than 2h");
        let c = overdue_check(Some((3, Some(0))), two_hours);
        assert_eq!(c.state, State::Fail);
        assert!(
            c.detail.starts_with("3 active contacts due for longer than 2h (oldest due since 1970-01-01 00:00:00 UTC)"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn classifies_clusters() {
        assert_eq!(classify_cluster(&Cluster::Standalone).state, State::Ok);
        assert_eq!(classify_cluster(&Cluster::Galera).state, State::Ok);
        assert_eq!(classify_cluster(&Cluster::GroupReplication { single_primary: true }).state, State::Ok);
        assert_eq!(classify_cluster(&Cluster::GroupReplication { single_primary: false }).state, State::Warn);
        assert_eq!(classify_cluster(&Cluster::Replica { source: "p".into() }).state, State::Warn);
    }

    fn galera(size: u64, status: &str, state: &str, paused: f64) -> GaleraNode {
        GaleraNode {
            cluster_size: size,
            cluster_status: status.into(),
            local_state: state.into(),
            flow_control_paused: paused,
            addresses: vec![],
        }
    }

    fn states(checks: &[Check]) -> Vec<(&str, State)> {
        checks.iter().map(|c| (c.name.as_str(), c.state)).collect()
    }

    #[test]
    fn a_synced_node_of_a_primary_component_passes_and_names_the_size() {
        let c = galera_checks(&galera(3, "Primary", "Synced", 0.0));
        assert_eq!(
            states(&c),
            [("galera.cluster", State::Ok), ("galera.node", State::Ok), ("galera.flow_control", State::Ok)]
        );
        assert_eq!(c[0].detail, "3 nodes, Primary component (has quorum)");
        assert_eq!(c[2].detail, "replication paused 0.0% of the time since the last FLUSH STATUS");
    }

    #[test]
    fn a_node_that_is_not_synced_fails() {
        for state in ["Donor/Desynced", "Joining", "Joined", "Initialized", ""] {
            let c = galera_checks(&galera(3, "Primary", state, 0.0));
            assert_eq!(c[1].state, State::Fail, "{state:?}");
            assert!(c[1].detail.contains("point seqfix at a Synced node"), "{}", c[1].detail);
        }
        let donor = galera_checks(&galera(3, "Primary", "Donor/Desynced", 0.0));
        assert!(donor[1].detail.starts_with("Donor/Desynced"), "{}", donor[1].detail);
    }

    #[test]
    fn a_component_without_quorum_fails() {
        let c = galera_checks(&galera(1, "non-Primary", "Initialized", 0.0));
        assert_eq!((c[0].state, c[1].state), (State::Fail, State::Fail));
        assert!(c[0].detail.starts_with("this node's component (1 node) is non-Primary"), "{}", c[0].detail);
    }

    #[test]
    fn flow_control_pauses_above_a_tenth_of_the_time_warn() {
        assert_eq!(galera_checks(&galera(3, "Primary", "Synced", 0.1))[2].state, State::Ok);
        let c = galera_checks(&galera(3, "Primary", "Synced", 0.25));
        assert_eq!(c[2].state, State::Warn);
        assert!(c[2].detail.starts_with("replication paused 25.0% of the time"), "{}", c[2].detail);
    }
}
