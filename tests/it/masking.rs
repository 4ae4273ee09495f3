//! Phone numbers stay out of what seqfix stores and logs (the ledger, the migration history,
//! error lines, log output); the report on stdout keeps them unless --mask-phones; the plan
//! file is 0600.
use std::os::unix::fs::PermissionsExt;

use mysql::prelude::Queryable;

use crate::common::TestDb;
use crate::empty_steps::put;
use crate::migrate::mig;

const PHONE: &str = "+60123456789";
const MASKED: &str = "+60•••••6789";
/// The part of the phone a masked one never shows.
const HIDDEN: &str = "12345";

fn load(db: &TestDb) {
    db.create_schema();
    put(db, "m1", Some("s1"), PHONE, "d1");
    put(db, "m2", Some("s1"), PHONE, "d1");
    put(db, "m3", Some("s2"), "+60 12-345 6789", "d1");
    put(db, "m4", Some("s2"), "60123456789", "d1");
}

fn stored(db: &TestDb, sql: &str) -> String {
    let rows: Vec<Option<String>> = db.conn().query(sql).unwrap();
    rows.into_iter().flatten().collect::<Vec<_>>().join("\n")
}

#[test]
fn the_failed_build_names_no_phone_in_its_refusal_history_or_ledger() {
    let db = TestDb::new("mask_migrate");
    load(&db);
    let run = mig(&db).args(["-vv"]).run().expect_code(1);
    assert!(run.stderr.contains("Duplicate entry") && run.stderr.contains(MASKED), "{}", run.stderr);
    assert!(!run.stderr.contains(HIDDEN), "{}", run.stderr);
    let history = stored(&db, "SELECT error FROM seqfix_schema_history");
    assert!(history.contains(MASKED) && !history.contains(HIDDEN), "{history}");
    let ledger = stored(&db, "SELECT CAST(summary AS CHAR) FROM seqfix_runs");
    assert!(!ledger.contains(HIDDEN), "{ledger}");
}

#[test]
fn the_ledger_masks_while_stdout_keeps_full_values_unless_asked() {
    let db = TestDb::new("mask_dedupe");
    load(&db);
    let audit = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0);
    assert!(audit.stdout.contains(PHONE), "the report keeps full values");
    let masked = db.seqfix().args(["--mask-phones", "audit", "--format", "json"]).run().expect_code(0);
    assert!(!masked.stdout.contains(HIDDEN), "{}", masked.stdout);
    let j = masked.json();
    assert_eq!(j["top_groups"][0]["recipient_phone"], MASKED);
    assert_eq!(j["top_groups"][0]["copies"][0]["recipient_phone"], MASKED);
    assert_eq!(j["near_duplicates"]["examples"][0]["phones"][0], MASKED, "{}", j["near_duplicates"]);
    let table = db.seqfix().args(["audit", "--mask-phones"]).run().expect_code(0);
    assert!(!table.stdout.contains(HIDDEN) && table.stdout.contains(MASKED), "{}", table.stdout);

    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.csv");
    std::fs::write(&plan, "old").unwrap();
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o644)).unwrap();
    let d = db
        .seqfix()
        .args(["dedupe", "--yes", "-vv", "--format", "json", "--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0);
    assert!(d.stdout.contains(PHONE), "stdout keeps full values");
    assert!(!d.stderr.contains(HIDDEN), "log output: {}", d.stderr);
    assert_eq!(std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&plan).unwrap().contains(PHONE), "the plan file is for spot checks");
    let ledger = stored(&db, "SELECT CAST(summary AS CHAR) FROM seqfix_runs");
    assert!(ledger.contains(MASKED) && !ledger.contains(HIDDEN), "{ledger}");
}

#[test]
fn mask_phones_masks_the_plan_file_too() {
    let db = TestDb::new("mask_plan");
    load(&db);
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.csv");
    db.seqfix()
        .args(["--mask-phones", "dedupe", "--dry-run", "--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0);
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains(MASKED) && !text.contains(HIDDEN), "{text}");
    assert_eq!(std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777, 0o600);
}
