//! Rows whose sequence_stepid is the empty string: no sequence to the application, so never
//! sequence duplicates; but the unique index would reject those sharing phone and device.
//! audit reports them, dedupe leaves them, migrate refuses while they collide, and
//! `dedupe --empty-steps-to-null` (undone by restore) is the remedy.
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use crate::common::TestDb;
use crate::migrate::{expect_refusal, mig};

/// Inserts one message.
pub(crate) fn put(db: &TestDb, id: &str, step: Option<&str>, phone: &str, device: &str) {
    db.conn()
        .exec_drop(
            "INSERT INTO broadcast_messages (id, user_id, device_id, recipient_phone, message_type, status, sequence_stepid, created_at) \
             VALUES (?, 'u', ?, ?, 'text', 'pending', ?, '2025-01-01 00:00:00')",
            (id, device, phone, step),
        )
        .unwrap();
}

/// Five empty steps (three sharing phone and device), one real duplicate pair, one campaign row.
fn load(db: &TestDb) {
    db.create_schema();
    for (id, step, phone, device) in [
        ("e1", Some(""), "+60111", "d1"),
        ("e2", Some(""), "+60111", "d1"),
        ("e3", Some(""), "+60111", "d1"),
        ("e4", Some(""), "+60222", "d1"),
        ("e5", Some(""), "+60111", "d2"),
        ("s1", Some("step-1"), "+60111", "d1"),
        ("s2", Some("step-1"), "+60111", "d1"),
        ("n1", None, "+60111", "d1"),
    ] {
        put(db, id, step, phone, device);
    }
}

fn steps(db: &TestDb) -> Vec<(String, Option<String>)> {
    db.conn().query("SELECT id, sequence_stepid FROM broadcast_messages ORDER BY id").unwrap()
}

#[test]
fn audit_reports_them_apart_and_dedupe_leaves_them() {
    let db = TestDb::new("empty_audit");
    load(&db);
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["sequence_messages"], 2);
    assert_eq!((j["duplicate_groups"].as_u64(), j["surplus_rows"].as_u64()), (Some(1), Some(1)));
    let e = &j["empty_steps"];
    assert_eq!(
        (e["rows"].as_u64(), e["colliding_groups"].as_u64(), e["colliding_rows"].as_u64()),
        (Some(5), Some(1), Some(2))
    );
    assert_eq!(e["examples"][0]["recipient_phone"], "+60111");
    assert_eq!(e["examples"][0]["rows"], 3);
    let text = db.seqfix().args(["audit"]).run().expect_code(0).stdout;
    assert!(text.contains("5 rows have an empty sequence_stepid") && text.contains("would reject 2"), "{text}");

    let d = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((d["deleted_rows"].as_u64(), d["empty_step_rows"].as_u64()), (Some(1), Some(5)));
    assert_eq!(db.ids("broadcast_messages"), ["e1", "e2", "e3", "e4", "e5", "n1", "s1"]);
}

#[test]
fn migrate_refuses_while_they_collide_and_names_the_remedy() {
    let db = TestDb::new("empty_migrate");
    load(&db);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    let before = db.checksum("broadcast_messages");
    let needles = ["3 rows", "in 1 groups", "reject 2", "seqfix dedupe --empty-steps-to-null"];
    expect_refusal(mig(&db).args(["--check-duplicates-first"]).run(), &needles);
    expect_refusal(mig(&db).args(["--dry-run"]).run(), &needles);
    // Without the check first, the build itself stops at them; the refusal must not send
    // the user back to a dedupe that would find nothing.
    let run = expect_refusal(mig(&db).run(), &needles);
    assert!(!run.stderr.contains("again if it already ran"), "{}", run.stderr);
    assert_eq!(db.checksum("broadcast_messages"), before, "nothing was changed");
}

#[test]
fn nulling_them_is_archived_ledgered_and_undone_by_restore() {
    let db = TestDb::new("empty_null");
    load(&db);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    let before = db.checksum("broadcast_messages");
    let dry =
        db.seqfix().args(["dedupe", "--empty-steps-to-null", "--dry-run", "--format", "json"]).run().expect_code(0);
    assert_eq!((dry.json()["empty_step_rows"].as_u64(), dry.json()["colliding_rows"].as_u64()), (Some(5), Some(2)));
    assert_eq!(db.checksum("broadcast_messages"), before, "a dry run changes nothing");

    let j = db
        .seqfix()
        .args(["dedupe", "--empty-steps-to-null", "--yes", "--batch-size", "2", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(
        (j["nulled_rows"].as_u64(), j["batches"].as_u64(), j["status"].as_str()),
        (Some(5), Some(3), Some("succeeded"))
    );
    let run_id = j["run_id"].as_str().unwrap().to_string();
    let nulls: Vec<String> = steps(&db).into_iter().filter(|(_, s)| s.is_none()).map(|(id, _)| id).collect();
    assert_eq!(nulls, ["e1", "e2", "e3", "e4", "e5", "n1"]);
    let archived: Vec<(String, String)> = db
        .conn()
        .exec("SELECT id, seqfix_kept_id FROM seqfix_archive WHERE seqfix_run_id = ? ORDER BY id", (&run_id,))
        .unwrap();
    assert_eq!(archived.len(), 5);
    assert!(archived.iter().all(|(id, kept)| id == kept), "changed in place: {archived:?}");
    let (command, status): (String, String) =
        db.conn().exec_first("SELECT command, status FROM seqfix_runs WHERE run_id = ?", (&run_id,)).unwrap().unwrap();
    assert_eq!((command.as_str(), status.as_str()), ("dedupe-empty-steps", "succeeded"));
    // Nothing left to do: a second run changes nothing.
    let again = db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes", "--format", "json"]).run().expect_code(0);
    assert_eq!(again.json()["nulled_rows"], 0);

    // The application gives e4 a real step meanwhile: restore leaves it be, and archived.
    db.conn().query_drop("UPDATE broadcast_messages SET sequence_stepid = 'step-9' WHERE id = 'e4'").unwrap();
    let r = db.seqfix().args(["restore", "--run", &run_id, "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((r["restored_rows"].as_u64(), r["left_rows"].as_u64()), (Some(4), Some(1)));
    let still: u64 = db
        .conn()
        .exec_first("SELECT COUNT(*) FROM seqfix_archive WHERE seqfix_run_id = ?", (&run_id,))
        .unwrap()
        .unwrap();
    assert_eq!(still, 1);
    db.conn().query_drop("UPDATE broadcast_messages SET sequence_stepid = '' WHERE id = 'e4'").unwrap();
    assert_eq!(db.checksum("broadcast_messages"), before, "restore put every empty step back");

    // The remedy, then the index.
    db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes"]).run().expect_code(0);
    mig(&db).run().expect_code(0);
}

#[test]
fn a_killed_run_leaves_every_row_unchanged_or_archived_and_a_rerun_finishes() {
    let db = TestDb::new("empty_kill");
    db.create_schema();
    for i in 0..40 {
        put(&db, &format!("e{i:02}"), Some(""), &format!("+60{}", i % 3), "d1");
    }
    let mut child = db
        .seqfix()
        .args(["dedupe", "--empty-steps-to-null", "--yes", "--batch-size", "3", "--sleep", "60ms", "--no-progress"])
        .spawn();
    let archived = |db: &TestDb| -> u64 {
        db.conn().query_first("SELECT COUNT(*) FROM seqfix_archive").ok().flatten().unwrap_or(0)
    };
    let start = Instant::now();
    while archived(&db) < 9 && start.elapsed() < Duration::from_secs(60) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(17));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    // Each batch is one transaction: a row is NULL exactly when it is archived.
    let check = |db: &TestDb| -> u64 {
        let nulled: Vec<String> =
            db.conn().query("SELECT id FROM broadcast_messages WHERE sequence_stepid IS NULL ORDER BY id").unwrap();
        let arch: Vec<String> = db.conn().query("SELECT id FROM seqfix_archive ORDER BY id").unwrap();
        assert_eq!(nulled, arch);
        nulled.len() as u64
    };
    let done = check(&db);
    assert!(done > 0 && done < 40, "killed mid-run: {done} of 40");
    let name = format!("seqfix.dedupe.{}.broadcast_messages", db.name);
    while db.conn().exec_first::<i64, _, _>("SELECT IS_FREE_LOCK(?)", (&name,)).unwrap() != Some(1) {
        assert!(start.elapsed() < Duration::from_secs(60), "the killed run's lock was never released");
        std::thread::sleep(Duration::from_millis(20));
    }
    let j =
        db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["nulled_rows"].as_u64(), Some(40 - done));
    assert_eq!(check(&db), 40);
}

#[test]
fn bad_flags_are_one_line_and_change_nothing() {
    let db = TestDb::new("empty_flags");
    load(&db);
    let before = db.checksum("broadcast_messages");
    db.seqfix()
        .args(["dedupe", "--empty-steps-to-null", "--plan-file", "/tmp/seqfix-never-written.csv"])
        .run()
        .expect_error("--plan-file lists the victims of a dedupe");
    assert!(!std::path::Path::new("/tmp/seqfix-never-written.csv").exists());
    db.seqfix()
        .args(["--metrics-file", "/tmp/seqfix-never-written.prom", "dedupe", "--empty-steps-to-null", "--yes"])
        .run()
        .expect_error("--metrics-file is not written by dedupe --empty-steps-to-null");
    db.seqfix().args(["dedupe", "--empty-steps-to-null"]).run().expect_error("pass --yes");
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_archive"));
}
