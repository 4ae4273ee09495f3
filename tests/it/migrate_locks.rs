//! `seqfix migrate` and other sessions: metadata locks held by long transactions (the
//! pile-up check), a duplicate committed while the ALTER runs, concurrent migrates, waiting
//! for a transaction, and a run killed during its DDL.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::Conn;

use crate::common::{Expected, Flavor, Run, TestDb};
use crate::migrate::{clean_table, duplicate_of, expect_refusal, has_index, history, history_exists, mig, versions};

/// Polls `f` for up to 30 s; panics with `what` if it never holds.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_long_transaction_stops_migrate_while_reads_keep_flowing() {
    let db = TestDb::new("mig_mdl");
    clean_table(&db, 1_000, 27);
    let before = db.checksum("broadcast_messages");
    // Session A: a transaction that read the table and stays open holds a shared metadata lock.
    let mut a = db.conn();
    a.query_drop("START TRANSACTION").unwrap();
    let _: Option<u64> = a.query_first("SELECT COUNT(*) FROM broadcast_messages").unwrap();
    let a_id = a.connection_id();

    // The preflight sees it (once older than --max-trx-age) and stops without queuing an ALTER.
    std::thread::sleep(Duration::from_millis(1_500));
    let out = db
        .seqfix()
        .args(["migrate", "--max-trx-age", "1s", "--trx-wait", "0s"])
        .run()
        .expect_error("may hold metadata locks");
    assert!(out.stderr.contains(&format!("connection {a_id} ")), "{}", out.stderr);

    // With the preflight told to ignore it, the ALTER queues for the lock. Meanwhile session C
    // reads the table in a loop; its longest wait is bounded by --lock-wait-timeout, not by A.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let mut c = db.conn();
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                let _: Option<u64> =
                    c.query_first("SELECT COUNT(*) FROM broadcast_messages WHERE id = 'nothing'").unwrap();
                worst = worst.max(t.elapsed());
                reads += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (worst, reads)
        })
    };
    let out = db
        .seqfix()
        .args(["migrate", "--max-trx-age", "1h", "--lock-wait-timeout", "1s", "--retries", "1"])
        .run()
        .expect_error("could not get the metadata lock");
    assert!(out.stderr.contains("in 2 attempt(s)"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("connection {a_id} ")), "names the open transaction: {}", out.stderr);
    stop.store(true, Ordering::SeqCst);
    let (worst, reads) = reader.join().unwrap();
    a.query_drop("COMMIT").unwrap();
    assert!(reads > 10, "the reader ran during the migrate ({reads} reads)");
    // Each attempt can hold readers up for at most the 1 s timeout; without it they would wait
    // until A ends (never, during this run). Generous bound for a loaded machine.
    assert!(worst < Duration::from_secs(4), "a read waited {worst:?}");
    assert!(!has_index(&db, "unique_sequence_message"));
    assert_eq!(db.checksum("broadcast_messages"), before);
    let h = history(&db);
    assert_eq!((h[0].1, h[0].2), (false, true), "recorded as failed");
    // With A gone, the same command succeeds.
    mig(&db).args(["--lock-wait-timeout", "1s"]).run().expect_code(0);
    assert!(has_index(&db, "unique_sequence_message"));
}

#[test]
fn a_duplicate_committed_while_the_alter_runs_is_reported_plainly() {
    // Deterministic version of "a duplicate arrives during the build": session A inserts a
    // duplicate without committing (the preflight cannot see it and A's metadata lock makes
    // the ALTER wait), then commits once the ALTER is waiting; the build then meets it.
    let db = TestDb::new("mig_dup_during");
    let rows = clean_table(&db, 1_000, 28);
    let original = rows.iter().find(|m| m.sequence_stepid.is_some()).unwrap();
    let dup = duplicate_of(original);
    let mut a = db.conn();
    a.query_drop("START TRANSACTION").unwrap();
    let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
    seqfix_fixture::messages::insert(&mut a, &table, [dup.clone()]).unwrap();
    let child = db.seqfix().args(["migrate", "--max-trx-age", "1h", "--lock-wait-timeout", "60s"]).spawn();
    let mut watch = db.conn();
    let processlist = Flavor::of(&mut watch).processlist();
    wait_until("the ALTER waits for the metadata lock", || {
        let n: u64 = watch
            .query_first(format!(
                "SELECT COUNT(*) FROM {processlist} \
                 WHERE STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE '%ALTER TABLE%'"
            ))
            .unwrap()
            .unwrap();
        n > 0
    });
    a.query_drop("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    let run = Run::from_output(out);
    expect_refusal(
        run,
        &[
            "1 duplicate group(s) (1 surplus rows)",
            "rolled the build back",
            "nothing was changed or lost",
            "seqfix dedupe",
        ],
    );
    assert!(!has_index(&db, "unique_sequence_message"));
    let ids = db.ids("broadcast_messages");
    assert!(ids.contains(&dup.id) && ids.contains(&original.id), "nothing lost");
    assert_eq!(db.count("broadcast_messages") as usize, rows.len() - Expected::of(&rows).surplus() + 1);
    let h = history(&db);
    assert_eq!((h[0].1, h[0].2), (false, true));
}

#[test]
fn one_migrate_at_a_time() {
    let db = TestDb::new("mig_lock");
    clean_table(&db, 600, 29);
    // A holder the test controls: the lock as another migrate would hold it.
    let mut holder = db.conn();
    let id = holder.connection_id();
    let got: Option<i64> =
        holder.exec_first("SELECT GET_LOCK(?, 0)", (seqfix::db::migrate_lock_name(&db.name),)).unwrap();
    assert_eq!(got, Some(1));
    let out = mig(&db).args(["--lock-wait-timeout", "1s"]).run().expect_error("another seqfix migrate");
    assert!(out.stderr.contains(&format!("held by connection {id} ")), "{}", out.stderr);
    assert!(!has_index(&db, "unique_sequence_message") && !history_exists(&db));
    let _: Option<i64> =
        holder.exec_first("SELECT RELEASE_LOCK(?)", (seqfix::db::migrate_lock_name(&db.name),)).unwrap();
    drop(holder);

    // Two started at once: exactly one applies; the other reports the holder or, if it got
    // the lock afterwards, finds the migration already applied.
    let a = mig(&db).args(["--format", "json", "--lock-wait-timeout", "1s"]).spawn();
    let b = mig(&db).args(["--format", "json", "--lock-wait-timeout", "1s"]).spawn();
    let mut applied = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        match out.status.code() {
            Some(0) => {
                let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                if versions(&j["applied"]) == [1] {
                    applied += 1;
                } else {
                    assert_eq!(versions(&j["already_applied"]), [1], "{stdout}");
                }
            }
            Some(2) => assert!(stderr.contains("is held by connection"), "{stderr}"),
            other => panic!("unexpected exit {other:?}: {stdout} {stderr}"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(history(&db).len(), 1);
}

#[test]
fn killed_during_the_alter_then_rerun_recovers() {
    // The "started" row is written before the DDL; a seqfix killed while its ALTER waits
    // leaves it unfinished, and the next run settles it from the table itself.
    let db = TestDb::new("mig_killed");
    clean_table(&db, 800, 31);
    let before = db.checksum("broadcast_messages");
    let mut a = db.conn();
    a.query_drop("START TRANSACTION").unwrap();
    let _: Option<u64> = a.query_first("SELECT COUNT(*) FROM broadcast_messages").unwrap();
    let mut child = db.seqfix().args(["migrate", "--max-trx-age", "1h", "--lock-wait-timeout", "60s"]).spawn();
    let mut watch = db.conn();
    let processlist = Flavor::of(&mut watch).processlist();
    let alters = |c: &mut Conn| -> u64 {
        c.exec_first(
            format!(
                "SELECT COUNT(*) FROM {processlist} WHERE DB = ? AND INFO LIKE '%ALTER TABLE%' \
                 AND ID <> CONNECTION_ID()"
            ),
            (db.name.as_str(),),
        )
        .unwrap()
        .unwrap()
    };
    wait_until("the ALTER waits for the metadata lock", || alters(&mut watch) > 0);
    let h = history(&db);
    assert_eq!((h[0].0, h[0].1, h[0].2), (1, false, false), "started, not finished, before the DDL completes");
    child.kill().unwrap();
    child.wait().unwrap();
    a.query_drop("COMMIT").unwrap();
    // The server finishes (or aborts) the orphaned ALTER on its own; wait until it is gone.
    wait_until("the orphaned ALTER ends", || alters(&mut watch) == 0);
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert!(j["notes"].to_string().contains("never finished"), "{}", j["notes"]);
    assert_eq!(versions(&j["already_applied"]).len() + versions(&j["applied"]).len(), 1);
    assert!(has_index(&db, "unique_sequence_message"));
    let h = history(&db);
    assert_eq!((h[0].1, h[0].2), (true, true));
    assert_eq!(db.checksum("broadcast_messages"), before);
    let ledger: Vec<String> = db.conn().query("SELECT status FROM seqfix_runs ORDER BY started_at").unwrap();
    assert_eq!(ledger, ["running", "succeeded"], "the killed run stays visible as running");
}

#[test]
fn waits_for_a_long_transaction_to_end_then_applies() {
    let db = TestDb::new("mig_trx_wait");
    clean_table(&db, 500, 32);
    let mut a = db.conn();
    a.query_drop("START TRANSACTION").unwrap();
    let _: Option<u64> = a.query_first("SELECT COUNT(*) FROM broadcast_messages").unwrap();
    let a_id = a.connection_id();
    std::thread::sleep(Duration::from_millis(1_500));
    let child = db
        .seqfix()
        .args(["migrate", "--max-trx-age", "1s", "--trx-wait", "60s", "--format", "json"])
        .env("RUST_LOG", "seqfix=warn")
        .spawn();
    // Once it holds its advisory lock it is past connecting; give it time to see A and wait.
    let mut watch = db.conn();
    let name = seqfix::db::migrate_lock_name(&db.name);
    wait_until("migrate holds its lock", || {
        let holder: Option<Option<u64>> = watch.exec_first("SELECT IS_USED_LOCK(?)", (name.as_str(),)).unwrap();
        holder.flatten().is_some()
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(!has_index(&db, "unique_sequence_message"), "it waits while A is open");
    a.query_drop("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("waiting for") && stderr.contains(&format!("connection {a_id} ")), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(versions(&j["applied"]), [1]);
    let trx = j["preflight"].as_array().unwrap().iter().find(|c| c["name"] == "long transactions").unwrap().clone();
    assert!(trx["detail"].as_str().unwrap().contains("after waiting"), "{trx}");
    assert!(has_index(&db, "unique_sequence_message"));
}
