//! Foreign keys that reference the messages table, and triggers on it: deleting a duplicate
//! would delete or change rows elsewhere that seqfix does not archive. dedupe (and
//! --empty-steps-to-null, for UPDATE) refuses in one line, changing nothing, unless
//! --allow-cascades.
use mysql::prelude::Queryable;

use crate::common::TestDb;
use crate::empty_steps::put;

/// A duplicate pair (m1 kept, m2 its victim) and an empty step.
fn load(db: &TestDb) {
    db.create_schema();
    put(db, "m1", Some("s1"), "+60111", "d1");
    put(db, "m2", Some("s1"), "+60111", "d1");
    put(db, "e1", Some(""), "+60111", "d1");
}

fn state(db: &TestDb) -> (String, bool, bool) {
    (db.checksum("broadcast_messages"), db.has_table("seqfix_archive"), db.has_table("seqfix_runs"))
}

#[test]
fn a_cascading_foreign_key_is_refused_unless_allowed() {
    let db = TestDb::new("cascade_fk");
    load(&db);
    let mut c = db.conn();
    c.query_drop(
        "CREATE TABLE receipts (id INT PRIMARY KEY, message_id CHAR(36) COLLATE utf8mb4_unicode_ci, \
         CONSTRAINT fk_receipt_message FOREIGN KEY (message_id) REFERENCES broadcast_messages (id) ON DELETE CASCADE) \
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    )
    .unwrap();
    c.query_drop("INSERT INTO receipts VALUES (1, 'm2'), (2, 'm1')").unwrap();
    let before = state(&db);
    let run = db.seqfix().args(["dedupe", "--yes"]).run().expect_error("--allow-cascades");
    assert!(
        run.stderr.contains(&format!(
            "is referenced by foreign key(s) {}.receipts.fk_receipt_message (ON DELETE CASCADE)",
            db.name
        )),
        "{}",
        run.stderr
    );
    assert_eq!(state(&db), before, "nothing was changed, not even the archive or the ledger");
    assert_eq!(db.count("receipts"), 2);
    // A dry run changes nothing anyway: it reports.
    db.seqfix().args(["dedupe", "--dry-run"]).run().expect_code(0);
    // The key is on id, not on the step: setting empty steps to NULL touches no child.
    db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes"]).run().expect_code(0);
    // Allowed: the server deletes the victim's receipt with it.
    let j = db.seqfix().args(["dedupe", "--yes", "--allow-cascades", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["deleted_rows"], 1);
    let left: Vec<i64> = c.query("SELECT id FROM receipts ORDER BY id").unwrap();
    assert_eq!(left, [2]);
}

#[test]
fn delete_and_update_triggers_are_refused_unless_allowed() {
    let db = TestDb::new("cascade_trigger");
    load(&db);
    let mut c = db.conn();
    c.query_drop("CREATE TABLE deleted_log (id CHAR(36))").unwrap();
    c.query_drop(
        "CREATE TRIGGER log_deletes AFTER DELETE ON broadcast_messages FOR EACH ROW INSERT INTO deleted_log VALUES (OLD.id)",
    )
    .unwrap();
    let before = state(&db);
    let run =
        db.seqfix().args(["dedupe", "--yes"]).run().expect_error("has DELETE trigger(s) log_deletes (AFTER DELETE)");
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(state(&db), before);
    // A DELETE trigger does not fire on the UPDATE of --empty-steps-to-null; an UPDATE one does.
    c.query_drop(
        "CREATE TRIGGER stamp_updates BEFORE UPDATE ON broadcast_messages FOR EACH ROW SET NEW.updated_at = NOW()",
    )
    .unwrap();
    db.seqfix()
        .args(["dedupe", "--empty-steps-to-null", "--yes"])
        .run()
        .expect_error("has UPDATE trigger(s) stamp_updates (BEFORE UPDATE)");
    assert_eq!(state(&db).0, before.0);
    db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes", "--allow-cascades"]).run().expect_code(0);
    db.seqfix().args(["dedupe", "--yes", "--allow-cascades"]).run().expect_code(0);
    let logged: Vec<String> = c.query("SELECT id FROM deleted_log").unwrap();
    assert_eq!(logged, ["m2"]);
}
