//! `seqfix status` on healthy and unhealthy databases built by the test, whose answer the
//! test knows: which checks fail, the counts, and who holds the process lock and lease.
use std::collections::BTreeSet;

use mysql::prelude::Queryable;
use mysql::Conn;
use seqfix::ledger::{self, RunStatus};
use seqfix_fixture::messages::{Message, Spec};

use crate::common::{admin_user, Expected, TestDb};

/// Deletes every surplus row (by the test's own answer) and adds the unique index.
pub fn clean_with_index(db: &TestDb, rows: &[Message]) {
    let mut c = db.conn();
    for chunk in Expected::of(rows).victims().chunks(200) {
        let list = chunk.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
        c.query_drop(format!("DELETE FROM broadcast_messages WHERE id IN ({list})")).unwrap();
    }
    c.query_drop(
        "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)",
    )
    .unwrap();
}

/// One active and one inactive sequence, and contacts whose `next_trigger_time` is `hours_ago`
/// hours in the past (negative: in the future), as (status, active sequence?, hours_ago).
fn contacts(c: &mut Conn, list: &[(&str, bool, Option<i64>)]) {
    c.query_drop(
        "INSERT INTO sequences (id, user_id, name, status, total_days, is_active) VALUES \
         ('seq-active', 'u1', 'on', 'active', 3, 1), ('seq-paused', 'u1', 'off', 'active', 3, 0), \
         ('seq-draft', 'u1', 'draft', 'draft', 3, 1)",
    )
    .unwrap();
    for (i, (status, active, hours)) in list.iter().enumerate() {
        let seq = if *active { "seq-active" } else { "seq-paused" };
        let when = match hours {
            Some(h) => format!("NOW() - INTERVAL {h} HOUR"),
            None => "NULL".into(),
        };
        c.query_drop(format!(
            "INSERT INTO sequence_contacts (id, sequence_id, contact_phone, status, next_trigger_time) \
             VALUES ('c{i}', '{seq}', '6010{i:04}', '{status}', {when})"
        ))
        .unwrap();
    }
    // Long overdue, but its sequence is a draft (is_active = 1, status 'draft'): never due.
    c.query_drop(
        "INSERT INTO sequence_contacts (id, sequence_id, contact_phone, status, next_trigger_time) \
         VALUES ('c-draft', 'seq-draft', '60109999', 'active', NOW() - INTERVAL 30 HOUR)",
    )
    .unwrap();
}

fn check<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {j:#}"))
}

fn failing(j: &serde_json::Value) -> BTreeSet<String> {
    j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_database_exits_zero() {
    let db = TestDb::new("status_healthy");
    let rows = db.load_messages(&Spec::new(800, 21));
    clean_with_index(&db, &rows);
    let mut c = db.conn();
    // Due within the last hour, in the future, or paused: none overdue at --stale-after 2h.
    contacts(
        &mut c,
        &[
            ("active", true, Some(1)),
            ("active", true, Some(-20)),
            ("active", false, Some(30)),
            ("completed", true, Some(30)),
        ],
    );
    let run = ledger::start(&mut c, "process", "tester").unwrap();
    ledger::finish(&mut c, &run, RunStatus::Succeeded, &serde_json::json!({"queued": 1})).unwrap();
    let before = db.checksum("broadcast_messages");

    let out = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0);
    let j = out.json();
    assert_eq!(j["healthy"], true, "{j:#}");
    assert!(failing(&j).is_empty());
    assert_eq!(j["unique_index"], true);
    assert_eq!(j["duplicate_groups"], 0);
    assert_eq!(j["overdue_contacts"], 0);
    assert_eq!(j["process_lock"], serde_json::Value::Null);
    assert_eq!(j["migrations"]["pending"].as_array().unwrap().len(), 0);
    assert_eq!(check(&j, "last_run.process")["state"], "ok");
    assert!(check(&j, "last_run.process")["detail"].as_str().unwrap().contains(&run.id));
    assert_eq!(j["last_runs"][0]["run_id"], run.id.as_str());
    assert_eq!(check(&j, "cluster")["state"], "ok");
    assert_eq!(j["flavor"], crate::common::Server::shared().flavor().name(), "the flavour the server itself reports");

    let table = db.seqfix().args(["status"]).run().expect_code(0);
    assert!(table.stdout.contains("healthy") && !table.stdout.contains("UNHEALTHY"), "{}", table.stdout);
    assert_eq!(db.checksum("broadcast_messages"), before, "status changes nothing");
}

#[test]
fn unhealthy_database_names_each_failing_check() {
    let db = TestDb::new("status_unhealthy");
    let rows = db.load_messages(&Spec::new(1_200, 22));
    let exp = Expected::of(&rows);
    let mut c = db.conn();
    // 3 overdue (active, active sequence, due 3-5 h ago); the rest must not count.
    contacts(
        &mut c,
        &[
            ("active", true, Some(3)),
            ("active", true, Some(5)),
            ("active", true, Some(4)),
            ("active", true, Some(1)),
            ("active", false, Some(9)),
            ("completed", true, Some(9)),
            ("active", true, None),
        ],
    );
    let failed = ledger::start(&mut c, "dedupe", "tester").unwrap();
    ledger::finish(&mut c, &failed, RunStatus::Failed, &serde_json::json!({"error": "boom"})).unwrap();
    // A process run marked running 7 hours ago whose lock nobody holds: it died.
    let dead = ledger::start(&mut c, "process", "tester").unwrap();
    c.exec_drop("UPDATE seqfix_runs SET started_at = NOW(3) - INTERVAL 7 HOUR WHERE run_id = ?", (&dead.id,)).unwrap();
    let interrupted = ledger::start(&mut c, "restore", "tester").unwrap();
    ledger::finish(&mut c, &interrupted, RunStatus::Interrupted, &serde_json::json!({})).unwrap();

    let out = db.seqfix().args(["status", "--format", "json"]).run().expect_code(1);
    let j = out.json();
    assert_eq!(j["healthy"], false);
    let want: BTreeSet<String> =
        ["unique_index", "duplicates", "overdue_contacts", "last_run.dedupe"].iter().map(|s| s.to_string()).collect();
    assert_eq!(failing(&j), want, "{j:#}");
    assert_eq!(j["duplicate_groups"], exp.duplicate_groups().len() as u64);
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    assert_eq!(j["overdue_contacts"], 3);
    // Its lock is free, so its process is gone: interrupted, with the run id and what resumes it.
    assert_eq!(check(&j, "last_run.process")["state"], "warn");
    let detail = check(&j, "last_run.process")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("interrupted") && detail.contains(&dead.id) && detail.contains("seqfix process"),
        "{detail}"
    );
    assert!(check(&j, "last_run.dedupe")["detail"].as_str().unwrap().contains(&failed.id));
    assert_eq!(check(&j, "last_run.restore")["state"], "warn");
    assert_eq!(check(&j, "migrations")["state"], "warn");
    assert!(check(&j, "migrations")["detail"].as_str().unwrap().contains("unique_sequence_message"));

    // The table rendering names them too, and --skip-duplicates avoids the scan.
    let table = db.seqfix().args(["status"]).run().expect_code(1);
    assert!(
        table.stdout.contains("UNHEALTHY: unique_index, duplicates, last_run.dedupe, overdue_contacts"),
        "{}",
        table.stdout
    );
    let j = db.seqfix().args(["status", "--format", "json", "--skip-duplicates"]).run().expect_code(1).json();
    assert_eq!(check(&j, "duplicates")["state"], "warn");
    assert_eq!(j["duplicate_groups"], serde_json::Value::Null);
    // A shorter --stale-after counts the contact due an hour ago too.
    let j = db.seqfix().args(["status", "--format", "json", "--stale-after", "30m"]).run().expect_code(1).json();
    assert_eq!(j["overdue_contacts"], 4);
}

#[test]
fn reports_who_holds_the_process_lock() {
    let db = TestDb::new("status_lock");
    let rows = db.load_messages(&Spec::new(300, 23));
    clean_with_index(&db, &rows);
    let mut holder = db.conn();
    let got: Option<i64> =
        holder.exec_first("SELECT GET_LOCK(?, 0)", (format!("seqfix.process.{}", db.name),)).unwrap();
    assert_eq!(got, Some(1));
    let id = holder.connection_id() as u64;
    // An old `running` process run whose lock is held is still going, not dead.
    let mut c = db.conn();
    let run = ledger::start(&mut c, "process", "tester").unwrap();
    c.exec_drop("UPDATE seqfix_runs SET started_at = NOW(3) - INTERVAL 7 HOUR WHERE run_id = ?", (&run.id,)).unwrap();

    let j = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["process_lock"]["connection_id"], id);
    assert_eq!(j["process_lock"]["user"], admin_user().as_str());
    assert!(check(&j, "process_lock")["detail"].as_str().unwrap().contains(&format!("connection {id}")));
    assert_eq!(check(&j, "last_run.process")["state"], "ok");
    assert!(check(&j, "last_run.process")["detail"].as_str().unwrap().contains("running now"));

    holder.query_drop("DO RELEASE_LOCK(CONCAT('seqfix.process.', DATABASE()))").unwrap();
    // Lock free, row still running: the run is gone. Interrupted, as a Ctrl-C'd run is:
    // a warning, not a failed check.
    let j = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["process_lock"], serde_json::Value::Null);
    assert_eq!(check(&j, "last_run.process")["state"], "warn");
    assert!(check(&j, "last_run.process")["detail"].as_str().unwrap().starts_with("interrupted"));
}

/// The process lease, as a run on another node holds it (this node's advisory lock is free):
/// status names holder, node and fence, and takes a `running` process run for alive while the
/// lease is live, for gone once it expired.
#[test]
fn reports_the_process_lease_held_from_another_node() {
    let db = TestDb::new("status_lease");
    let rows = db.load_messages(&Spec::new(300, 25));
    clean_with_index(&db, &rows);
    let j = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["process_lease"], serde_json::Value::Null, "no lease table yet");
    assert!(check(&j, "process_lock")["detail"].as_str().unwrap().contains("no lease claimed yet"));

    let mut c = db.conn();
    seqfix::lease::ensure(&mut c).unwrap();
    c.query_drop(
        "INSERT INTO seqfix_leases (name, holder, node, client_host, pid, fence, renewals, claimed_at, expires_at) \
         VALUES ('process', 'r-live', 'node9 (db9:3306)', 'cron9', 77, 4, 6, NOW(6), NOW(6) + INTERVAL 2 MINUTE)",
    )
    .unwrap();
    let run = ledger::start(&mut c, "process", "tester").unwrap();
    c.exec_drop("UPDATE seqfix_runs SET started_at = NOW(3) - INTERVAL 7 HOUR WHERE run_id = ?", (&run.id,)).unwrap();

    let j = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0).json();
    let lease = &j["process_lease"];
    assert_eq!((lease["holder"].as_str(), lease["node"].as_str()), (Some("r-live"), Some("node9 (db9:3306)")));
    assert_eq!(
        (lease["fence"].as_u64(), lease["renewals"].as_u64(), lease["held"].as_bool()),
        (Some(4), Some(6), Some(true))
    );
    let left = lease["expires_in_seconds"].as_f64().unwrap();
    assert!(left > 60.0 && left <= 120.0, "{left}");
    assert_eq!(j["process_lock"], serde_json::Value::Null, "this node's lock is free");
    let detail = check(&j, "process_lock")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("lease held by run r-live on node9 (db9:3306) (seqfix on cron9, pid 77), fence 4"),
        "{detail}"
    );
    assert_eq!(check(&j, "last_run.process")["state"], "ok");
    assert!(check(&j, "last_run.process")["detail"].as_str().unwrap().contains("running now"));
    let table = db.seqfix().args(["status"]).run().expect_code(0);
    assert!(table.stdout.contains("r-live"), "{}", table.stdout);

    // Expired: free, and the run that still says running is gone.
    c.query_drop("UPDATE seqfix_leases SET expires_at = NOW(6) - INTERVAL 10 SECOND").unwrap();
    let j = db.seqfix().args(["status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["process_lease"]["held"], false);
    let detail = check(&j, "process_lock")["detail"].as_str().unwrap().to_string();
    assert!(detail.starts_with("free: last held by run r-live on node9 (db9:3306)"), "{detail}");
    assert_eq!(check(&j, "last_run.process")["state"], "warn");
    assert!(check(&j, "last_run.process")["detail"].as_str().unwrap().starts_with("interrupted"));
}

#[test]
fn works_with_select_only_and_reads_migration_history() {
    let db = TestDb::new("status_history");
    let rows = db.load_messages(&Spec::new(300, 24));
    clean_with_index(&db, &rows);
    // `migrate` recognises the index made by hand and records migration 1 as applied; the
    // test then marks that row failed, as a crashed or failed migration leaves it.
    db.seqfix().args(["migrate"]).run().expect_code(0);
    let mut c = db.conn();
    c.query_drop("UPDATE seqfix_schema_history SET success = 0, finished_at = NULL").unwrap();
    let url = db.user_with("seqfix_status_ro", "ro-pw", "SELECT");
    let run = crate::common::Seqfix::new().args(["--database-url", &url, "status", "--format", "json"]).run();
    let j = run.expect_code(1).json();
    assert_eq!(failing(&j), BTreeSet::from(["migrations".to_string()]));
    assert!(check(&j, "migrations")["detail"].as_str().unwrap().contains("failed or is half-recorded"));
    c.query_drop("UPDATE seqfix_schema_history SET success = 1").unwrap();
    let j = crate::common::Seqfix::new().args(["--database-url", &url, "status", "--format", "json"]).run();
    let j = j.expect_code(0).json();
    assert_eq!(check(&j, "migrations")["detail"], "all applied");
}

#[test]
fn bad_input() {
    let db = TestDb::new("status_bad");
    db.create_schema();
    let out = db.seqfix().args(["status", "--stale-after", "soon"]).run().expect_code(2);
    assert!(out.stderr.contains("--stale-after"), "{}", out.stderr);
    db.seqfix().args(["--table", "a`b", "status"]).run().expect_error("invalid table name");
    // A missing table is a failed check, not an error: the rest of the report still matters.
    let j = db.seqfix().args(["--table", "nope", "status", "--format", "json"]).run().expect_code(1).json();
    assert!(failing(&j).contains("unique_index"));
}

#[test]
fn reports_a_replica() {
    // A second server configured to replicate from the shared one: SHOW SLAVE STATUS (or
    // SHOW REPLICA STATUS) then has a row, whether or not the replication threads run.
    let source = crate::common::Server::shared();
    let replica = crate::common::Server::start(crate::common::ServerOpts { args: vec!["--server-id=7".into()] });
    let db = replica.fresh_db("status_replica");
    db.create_schema();
    replica.replicate_from(source, false);
    let j = db.seqfix().args(["status", "--format", "json"]).run().json();
    assert_eq!(j["cluster"]["mode"], "replica", "{j:#}");
    assert_eq!(j["cluster"]["source"], source.host.as_str());
    assert_eq!(check(&j, "cluster")["state"], "warn");
    assert!(check(&j, "cluster")["detail"].as_str().unwrap().contains(&format!("replica of {}", source.host)));
}

/// `kill -9` of a dedupe: its ledger row stays `running`, but its lock went with its
/// connection, so status says interrupted (with the run id and how to finish), not running.
#[test]
fn a_killed_run_is_reported_interrupted_not_running() {
    let db = TestDb::new("status_killed_run");
    db.load_messages(&Spec::new(3_000, 41));
    let mut child =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "40ms", "--no-progress"]).spawn();
    db.wait_archived_more_than(20);
    let mut c = db.conn();
    let run_id: String = c.query_first("SELECT run_id FROM seqfix_runs WHERE status = 'running'").unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // The server frees the lock when it sees the connection close.
    let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
    let lock = seqfix::db::dedupe_lock_name(&db.name, &table);
    let start = std::time::Instant::now();
    while c.exec_first::<Option<u64>, _, _>("SELECT IS_USED_LOCK(?)", (&lock,)).unwrap().flatten().is_some() {
        assert!(start.elapsed().as_secs() < 30, "the killed run's lock was never freed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status: String = c.exec_first("SELECT status FROM seqfix_runs WHERE run_id = ?", (&run_id,)).unwrap().unwrap();
    assert_eq!(status, "running", "the killed run could not close its row");
    let j = db.seqfix().args(["status", "--format", "json"]).run().json();
    let last = check(&j, "last_run.dedupe");
    let detail = last["detail"].as_str().unwrap();
    assert_eq!(last["state"], "warn", "{detail}");
    assert!(detail.starts_with("interrupted") && detail.contains(&run_id), "{detail}");
    assert!(detail.contains("run `seqfix dedupe` again"), "{detail}");
}

/// Every command that writes refuses, before anything is written, a read-only server (even
/// to a user with SUPER, as the test user is) and a replica; the read-only ones still run.
#[test]
fn writing_commands_refuse_read_only_servers_and_replicas() {
    let server = crate::common::Server::start(crate::common::ServerOpts { args: vec!["--server-id=8".into()] });
    let db = server.fresh_db("status_read_only");
    let rows = db.load_messages(&Spec::new(300, 5));
    assert!(Expected::of(&rows).surplus() > 0);
    let before = db.checksum("broadcast_messages");
    let writers: [&[&str]; 4] = [
        &["dedupe", "--yes"],
        &["restore", "--yes", "--run", "00000000-0000-0000-0000-000000000000"],
        &["migrate"],
        &["process"],
    ];
    let mut admin = server.admin_conn();
    let trx = match crate::common::Flavor::of(&mut admin) {
        crate::common::Flavor::MariaDb => "tx_read_only",
        crate::common::Flavor::MySql => "transaction_read_only",
    };
    for variable in ["read_only", trx] {
        let named = format!("{variable} on");
        admin.query_drop(format!("SET GLOBAL {variable} = 1")).unwrap();
        for args in writers {
            db.seqfix().args(args).run().expect_error(&format!("is read-only ({named})"));
        }
        // Reading is fine.
        db.seqfix().args(["audit"]).run().expect_code(0);
        db.seqfix().args(["dedupe", "--dry-run"]).run().expect_code(0);
        admin.query_drop(format!("SET GLOBAL {variable} = 0")).unwrap();
    }
    // A replica (its threads need not run: SHOW REPLICA STATUS has a row).
    server.replicate_from(crate::common::Server::shared(), false);
    for args in writers {
        db.seqfix().args(args).run().expect_error("is a replica of");
    }
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_runs") && !db.has_table("seqfix_schema_history") && !db.has_table("seqfix_archive"));
}
