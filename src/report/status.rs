//! `seqfix status`'s report: one line per check, then healthy or what failed.
use comfy_table::Cell;

use super::new_table;

pub fn status(r: &crate::status::StatusReport) -> String {
    use crate::status::State;
    let mut out = format!("seqfix status of {}.{} ({})\n", r.database, r.table, r.server);
    if let Some(g) = &r.galera {
        out += &galera_line(g);
    }
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

/// One line on the Galera cluster as this node sees it, under the title.
fn galera_line(g: &crate::db::GaleraNode) -> String {
    format!(
        "Galera cluster: {} nodes, {}; this node {}; flow control paused {:.1}% of the time\n",
        g.cluster_size,
        g.cluster_status,
        g.local_state,
        g.flow_control_paused * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Cluster, Flavor};
    use crate::status::{Check, State, StatusReport};

    fn report(checks: Vec<Check>) -> StatusReport {
        StatusReport {
            healthy: checks.iter().all(|c| c.state != State::Fail),
            database: "app".into(),
            table: "msgs".into(),
            server: "10.11.6-MariaDB".into(),
            flavor: Flavor::MariaDb,
            cluster: Cluster::Standalone,
            galera: None,
            unique_index: None,
            duplicate_groups: None,
            surplus_rows: None,
            migrations: None,
            last_runs: vec![],
            process_lock: None,
            process_lease: None,
            dedupe_lease: None,
            overdue_contacts: None,
            stale_after_seconds: 3600,
            checks,
        }
    }

    fn check(name: &str, state: State, detail: &str) -> Check {
        Check { name: name.into(), state, detail: detail.into() }
    }

    #[test]
    fn failed_checks_are_named_under_the_table() {
        let r = report(vec![
            check("server", State::Ok, "up"),
            check("unique_index", State::Fail, "missing"),
            check("cluster", State::Warn, "Galera node"),
        ]);
        let want = concat!(
            "seqfix status of app.msgs (10.11.6-MariaDB)\n",
            "┌──────────────┬───────┬─────────────┐\n",
            "│ check        ┆ state ┆ detail      │\n",
            "╞══════════════╪═══════╪═════════════╡\n",
            "│ server       ┆ ok    ┆ up          │\n",
            "│ unique_index ┆ FAIL  ┆ missing     │\n",
            "│ cluster      ┆ WARN  ┆ Galera node │\n",
            "└──────────────┴───────┴─────────────┘\n",
            "UNHEALTHY: unique_index failed\n",
        );
        assert_eq!(status(&r), want);
    }

    #[test]
    fn no_failed_check_is_healthy() {
        let want = concat!(
            "seqfix status of app.msgs (10.11.6-MariaDB)\n",
            "┌────────┬───────┬────────┐\n",
            "│ check  ┆ state ┆ detail │\n",
            "╞════════╪═══════╪════════╡\n",
            "│ server ┆ ok    ┆ up     │\n",
            "└────────┴───────┴────────┘\n",
            "healthy\n",
        );
        assert_eq!(status(&report(vec![check("server", State::Ok, "up")])), want);
    }

    #[test]
    fn a_galera_node_says_its_cluster_under_the_title() {
        let mut r = report(vec![check("galera.node", State::Fail, "Donor/Desynced")]);
        r.cluster = Cluster::Galera;
        r.galera = Some(crate::db::GaleraNode {
            cluster_size: 3,
            cluster_status: "Primary".into(),
            local_state: "Donor/Desynced".into(),
            flow_control_paused: 0.0125,
            addresses: vec!["127.0.0.1:3306".into()],
        });
        let want = concat!(
            "seqfix status of app.msgs (10.11.6-MariaDB)\n",
            "Galera cluster: 3 nodes, Primary; this node Donor/Desynced; flow control paused 1.2% of the time\n",
            "┌─────────────┬───────┬────────────────┐\n",
            "│ check       ┆ state ┆ detail         │\n",
            "╞═════════════╪═══════╪════════════════╡\n",
            "│ galera.node ┆ FAIL  ┆ Donor/Desynced │\n",
            "└─────────────┴───────┴────────────────┘\n",
            "UNHEALTHY: galera.node failed\n",
        );
        assert_eq!(status(&r), want);
    }
}
