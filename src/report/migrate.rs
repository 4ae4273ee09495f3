//! `seqfix migrate`'s report: the history, the preflight, the SQL and what changed.
use comfy_table::Cell;

use super::{new_table, num};

pub fn migrate(r: &crate::migrate::MigrateReport) -> String {
    use crate::migrate::Action;
    let mut out = String::new();
    let what = match (r.action, r.dry_run) {
        (Action::Status, _) => "Migrations",
        (Action::Up, true) => "Migrate (dry run: nothing is changed)",
        (Action::Up, false) => "Migrate",
        (Action::Down, true) => "Revert (dry run: nothing is changed)",
        (Action::Down, false) => "Revert",
    };
    out += &format!("{what} of {}.{} ({})\n", r.database, r.table, r.server);
    let mut t = new_table(&["version", "name", "state", "started", "finished", "by", "host", "ms"]);
    for m in &r.migrations {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        t.add_row(vec![
            Cell::new(m.version),
            Cell::new(&m.name),
            Cell::new(
                serde_json::to_value(m.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            ),
            Cell::new(opt(&m.started_at)),
            Cell::new(opt(&m.finished_at)),
            Cell::new(opt(&m.installed_by)),
            Cell::new(opt(&m.host)),
            Cell::new(m.execution_ms.map(|n| n.to_string()).unwrap_or_default()),
        ]);
    }
    out += &format!("{t}\n");
    out += &format!(
        "unique index on (sequence_stepid, recipient_phone, device_id): {}\n",
        r.unique_index.as_deref().map(|n| format!("present ({n})")).unwrap_or_else(|| "missing".into())
    );
    if !r.preflight.is_empty() {
        let mut p = new_table(&["preflight", "result", "detail"]);
        for c in &r.preflight {
            let status = serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_string));
            p.add_row(vec![Cell::new(c.name), Cell::new(status.unwrap_or_default()), Cell::new(&c.detail)]);
        }
        out += &format!("\n{p}\n");
    }
    if !r.long_transactions.is_empty() {
        out += &format!("\nLong transactions\n{}\n", long_transactions(&r.long_transactions));
    }
    if !r.sql.is_empty() {
        out += &format!("\n{}\n", if r.dry_run { "SQL that would run:" } else { "SQL run:" });
        for s in &r.sql {
            out += &format!("{};\n", s.trim_end());
        }
    }
    for n in &r.notes {
        out += &format!("\n  ! {n}");
    }
    if !r.notes.is_empty() {
        out.push('\n');
    }
    let list = |v: &[u32]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    out += &format!(
        "\napplied now: {}; already applied: {}; pending: {}",
        list(&r.applied),
        list(&r.already_applied),
        list(&r.pending)
    );
    if !r.recorded.is_empty() {
        out += &format!("; recorded without building: {}", list(&r.recorded));
    }
    if r.action == Action::Down {
        out += &format!("; {}: {}", if r.dry_run { "would revert" } else { "reverted" }, list(&r.reverted));
    }
    out.push('\n');
    if let Some(ms) = r.build_ms {
        out += &format!("preflight {} ms, DDL {} ms in {} attempt(s)\n", r.preflight_ms, ms, r.attempts);
    }
    out
}

/// The transactions the preflight found, with the node each is open on when it ran on a
/// Galera cluster (every node is checked there).
fn long_transactions(list: &[crate::migrate::preflight::Trx]) -> comfy_table::Table {
    let on_nodes = list.iter().any(|x| x.node.is_some());
    let mut head = vec!["connection", "user", "host", "db", "open (s)", "query"];
    if on_nodes {
        head.insert(0, "node");
    }
    let mut lt = new_table(&head);
    for x in list {
        let mut row = vec![
            Cell::new(x.connection_id),
            Cell::new(&x.user),
            Cell::new(&x.host),
            Cell::new(&x.db),
            num(x.age_s),
            Cell::new(if x.query.is_empty() { &x.command } else { &x.query }),
        ];
        if on_nodes {
            row.insert(0, Cell::new(x.node.as_deref().unwrap_or("")));
        }
        lt.add_row(row);
    }
    lt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Flavor;
    use crate::migrate::plan::State;
    use crate::migrate::preflight::{Check, CheckStatus};
    use crate::migrate::{Action, MigrateReport, MigrationLine};

    #[test]
    fn an_applied_migration_shows_its_history_preflight_sql_and_timings() {
        let r = MigrateReport {
            database: "app".into(),
            table: "msgs".into(),
            server: "9.7.4".into(),
            flavor: Flavor::MySql,
            action: Action::Up,
            dry_run: false,
            applied: vec![1],
            already_applied: vec![],
            recorded: vec![],
            pending: vec![],
            reverted: vec![],
            migrations: vec![MigrationLine {
                version: 1,
                name: "unique".into(),
                checksum: "0".into(),
                state: State::Applied,
                started_at: Some("2026-01-01 10:00:00".into()),
                finished_at: Some("2026-01-01 10:00:02".into()),
                installed_by: Some("app@%".into()),
                host: Some("h1".into()),
                execution_ms: Some(2000),
                error: None,
            }],
            unique_index: Some("unique_sequence_message".into()),
            preflight: vec![Check { name: "duplicates", status: CheckStatus::Pass, detail: "none".into() }],
            sql: vec!["ALTER TABLE `msgs` ADD UNIQUE INDEX u (a)\n".into()],
            long_transactions: vec![],
            duplicate_groups: Some(0),
            surplus_rows: Some(0),
            empty_step_collisions: None,
            galera: None,
            nodes_checked: vec![],
            attempts: 2,
            preflight_ms: 12,
            build_ms: Some(2000),
            notes: vec!["a note".into()],
            refusal: None,
        };
        let want = concat!(
            "Migrate of app.msgs (9.7.4)\n",
            "┌─────────┬────────┬─────────┬─────────────────────┬─────────────────────┬───────┬──────┬──────┐\n",
            "│ version ┆ name   ┆ state   ┆ started             ┆ finished            ┆ by    ┆ host ┆ ms   │\n",
            "╞═════════╪════════╪═════════╪═════════════════════╪═════════════════════╪═══════╪══════╪══════╡\n",
            "│ 1       ┆ unique ┆ applied ┆ 2026-01-01 10:00:00 ┆ 2026-01-01 10:00:02 ┆ app@% ┆ h1   ┆ 2000 │\n",
            "└─────────┴────────┴─────────┴─────────────────────┴─────────────────────┴───────┴──────┴──────┘\n",
            "unique index on (sequence_stepid, recipient_phone, device_id): present (unique_sequence_message)\n",
            "\n",
            "┌────────────┬────────┬────────┐\n",
            "│ preflight  ┆ result ┆ detail │\n",
            "╞════════════╪════════╪════════╡\n",
            "│ duplicates ┆ pass   ┆ none   │\n",
            "└────────────┴────────┴────────┘\n",
            "\n",
            "SQL run:\n",
            "ALTER TABLE `msgs` ADD UNIQUE INDEX u (a);\n",
            "\n",
            "  ! a note\n",
            "\n",
            "applied now: 1; already applied: none; pending: none\n",
            "preflight 12 ms, DDL 2000 ms in 2 attempt(s)\n",
        );
        assert_eq!(migrate(&r), want);
    }

    #[test]
    fn long_transactions_on_a_cluster_name_their_node() {
        use crate::migrate::preflight::Trx;
        let trx = |node: Option<&str>| Trx {
            connection_id: 42,
            user: "app".into(),
            host: "10.0.0.9:5000".into(),
            db: "app".into(),
            age_s: 13,
            command: "Sleep".into(),
            query: String::new(),
            node: node.map(str::to_string),
        };
        let want = concat!(
            "┌───────────────┬────────────┬──────┬───────────────┬─────┬──────────┬───────┐\n",
            "│ node          ┆ connection ┆ user ┆ host          ┆ db  ┆ open (s) ┆ query │\n",
            "╞═══════════════╪════════════╪══════╪═══════════════╪═════╪══════════╪═══════╡\n",
            "│ 10.0.0.2:3306 ┆ 42         ┆ app  ┆ 10.0.0.9:5000 ┆ app ┆       13 ┆ Sleep │\n",
            "└───────────────┴────────────┴──────┴───────────────┴─────┴──────────┴───────┘",
        );
        assert_eq!(long_transactions(&[trx(Some("10.0.0.2:3306"))]).to_string(), want);
        let single = long_transactions(&[trx(None)]).to_string();
        assert!(single.starts_with("┌────────────┬") && !single.contains("node"), "{single}");
    }
}
