//! The survivor rule through the real binary, on hand-made groups whose answer is written
//! down here: `--keep sent-first` keeps a sent copy over an older unsent one, groups with a
//! status the rule does not rank are left alone and reported, `--status-rank` names the
//! order, `--keep oldest` is the original rule, a copy sent between the plan and its batch
//! is never deleted, `created_at` with microseconds orders by them, and the largest
//! `--batch-size` works on real rows.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use seqfix_fixture::messages::Spec;

use crate::common::{plan_file_records, put, Expected, TestDb};

/// victim id → kept id, as the archive records it.
fn archived(db: &TestDb) -> BTreeMap<String, String> {
    if !db.has_table("seqfix_archive") {
        return BTreeMap::new();
    }
    db.conn().query("SELECT id, seqfix_kept_id FROM seqfix_archive").unwrap().into_iter().collect()
}

fn live(db: &TestDb) -> BTreeSet<String> {
    db.ids("broadcast_messages").into_iter().collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(v, k)| (v.to_string(), k.to_string())).collect()
}

/// The groups of the issue: the oldest copy unsent and a newer one sent, in every status.
fn load_status_groups(db: &TestDb) {
    db.create_schema();
    let mut c = db.conn();
    for (id, group, status, created) in [
        // oldest pending, newer sent → the sent one is kept
        ("p1", "pending-sent", "pending", "2025-01-01 00:00:00"),
        ("p2", "pending-sent", "sent", "2025-01-01 00:00:05"),
        // oldest queued, newer SENT (upper case), a newer pending → the sent one is kept
        ("q1", "queued-sent", "queued", "2025-01-01 00:00:00"),
        ("q2", "queued-sent", "SENT", "2025-01-01 00:01:00"),
        ("q3", "queued-sent", "pending", "2025-01-01 00:02:00"),
        // processing beats queued, queued beats pending, pending beats failed
        ("r1", "ranks", "failed", "2025-01-01 00:00:00"),
        ("r2", "ranks", "pending", "2025-01-01 00:00:01"),
        ("r3", "ranks", "queued", "2025-01-01 00:00:02"),
        ("r4", "ranks", "processing", "2025-01-01 00:00:03"),
        // two sent copies → the older one is kept
        ("s2", "two-sent", "sent", "2025-01-01 00:00:09"),
        ("s1", "two-sent", "sent", "2025-01-01 00:00:10"),
        // the same status and second → the smallest id is kept
        ("t2", "tie", "pending", "2025-01-01 00:00:00"),
        ("t1", "tie", "pending", "2025-01-01 00:00:00"),
    ] {
        put(&mut c, id, group, Some(status), Some(created));
    }
}

#[test]
fn sent_first_keeps_the_sent_copy_over_an_older_unsent_one() {
    let db = TestDb::new("survivor_sent_first");
    load_status_groups(&db);
    let a = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(a["survivor"]["rule"], "sent-first");
    // Kept other than the oldest: pending-sent, queued-sent, ranks.
    assert_eq!(a["survivor"]["kept_not_oldest_groups"], 3);
    // The original rule would keep an unsent copy where a sent one exists: pending-sent, queued-sent.
    assert_eq!(a["survivor"]["resent_by_oldest_groups"], 2);
    assert_eq!(a["survivor"]["left_alone_groups"], 0);

    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.csv");
    let j = db
        .seqfix()
        .args(["dedupe", "--yes", "--format", "json", "--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0)
        .json();
    let want = map(&[
        ("p1", "p2"),
        ("q1", "q2"),
        ("q3", "q2"),
        ("r1", "r4"),
        ("r2", "r4"),
        ("r3", "r4"),
        ("s1", "s2"),
        ("t2", "t1"),
    ]);
    assert_eq!(archived(&db), want);
    assert_eq!(live(&db), ["p2", "q2", "r4", "s2", "t1"].iter().map(|s| s.to_string()).collect());
    assert_eq!((j["deleted_rows"].as_u64(), j["planned_rows"].as_u64()), (Some(8), Some(8)));
    assert_eq!(j["survivor"]["rule"], "sent-first");

    // The plan file says which copy is kept and why.
    let why: BTreeMap<String, (String, String, String)> = plan_file_records(&plan)
        .into_iter()
        .map(|r| (r[0].to_string(), (r[1].to_string(), r[5].to_string(), r[6].to_string())))
        .collect();
    let w = |k: &str, because: &str| (k.to_string(), "sent-first".to_string(), because.to_string());
    assert_eq!(why["p1"], w("p2", "status"));
    assert_eq!(why["q3"], w("q2", "status"));
    assert_eq!(why["s1"], w("s2", "oldest"));
    assert_eq!(why["t2"], w("t1", "smallest-id"));
}

#[test]
fn keep_oldest_reproduces_the_original_rule() {
    let db = TestDb::new("survivor_oldest");
    load_status_groups(&db);
    let a = db.seqfix().args(["audit", "--keep", "oldest", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(a["survivor"]["rule"], "oldest");
    assert_eq!(a["survivor"]["kept_not_oldest_groups"], 0);
    assert_eq!(a["survivor"]["resent_by_oldest_groups"], 2, "the warning is given under either rule");
    let out = db.seqfix().args(["audit", "--keep", "oldest", "--no-progress"]).run().expect_code(0);
    assert!(out.stdout.contains("2 groups"), "{}", out.stdout);
    db.seqfix().args(["dedupe", "--yes", "--keep", "oldest"]).run().expect_code(0);
    let want = map(&[
        ("p2", "p1"),
        ("q2", "q1"),
        ("q3", "q1"),
        ("r2", "r1"),
        ("r3", "r1"),
        ("r4", "r1"),
        ("s1", "s2"),
        ("t2", "t1"),
    ]);
    assert_eq!(archived(&db), want);

    // On generated data, the same answer as the original rule computed independently.
    let db = TestDb::new("survivor_oldest_generated");
    let rows = db.load_messages(&Spec::new(3_000, 41));
    let (oldest, sent_first) = (Expected::oldest(&rows), Expected::of(&rows));
    assert_ne!(oldest.survivor_of(), sent_first.survivor_of(), "the generator makes groups the rules differ on");
    let a = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(a["survivor"]["resent_by_oldest_groups"], oldest.resent_by_oldest() as u64);
    assert!(oldest.resent_by_oldest() > 0);
    let kept_not_oldest =
        sent_first.decided_groups().iter().filter(|g| oldest.groups[&key(&g[0])][0].id != g[0].id).count();
    assert_eq!(a["survivor"]["kept_not_oldest_groups"], kept_not_oldest as u64);
    let failed_sent = oldest
        .duplicate_groups()
        .iter()
        .filter(|g| g[0].status == "failed" && g[1..].iter().any(|m| m.status == "sent"))
        .count();
    assert!(failed_sent > 0);
    let o = db.seqfix().args(["audit", "--keep", "oldest", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(o["warnings"]["failed_survivor_groups"], failed_sent as u64);
    assert_eq!(a["warnings"]["failed_survivor_groups"], 0, "sent-first never keeps a failed copy over a sent one");
    db.seqfix().args(["dedupe", "--yes", "--keep", "oldest", "--batch-size", "50"]).run().expect_code(0);
    assert_eq!(archived(&db), oldest.survivor_of());
}

fn key(m: &seqfix_fixture::messages::Message) -> (String, String, String) {
    (m.sequence_stepid.clone().unwrap(), m.recipient_phone.clone(), m.device_id.clone())
}

#[test]
fn a_group_with_a_status_the_rule_does_not_know_is_left_alone_and_reported() {
    let db = TestDb::new("survivor_unknown");
    db.create_schema();
    let mut c = db.conn();
    for (id, group, status, created) in [
        ("d1", "delivered", Some("sent"), "2025-01-01 00:00:00"),
        ("d2", "delivered", Some("delivered"), "2025-01-01 00:00:01"),
        ("n1", "null", Some("sent"), "2025-01-01 00:00:00"),
        ("n2", "null", None, "2025-01-01 00:00:01"),
        ("k1", "known", Some("pending"), "2025-01-01 00:00:00"),
        ("k2", "known", Some("sent"), "2025-01-01 00:00:01"),
    ] {
        put(&mut c, id, group, status, Some(created));
    }
    let a = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    let s = &a["survivor"];
    assert_eq!((s["left_alone_groups"].as_u64(), s["left_alone_rows"].as_u64()), (Some(2), Some(2)));
    let unknown: Vec<(String, u64)> = s["unknown_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap().to_string(), k["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(unknown, [("(null)".to_string(), 1), ("delivered".to_string(), 1)]);
    assert_eq!(a["surplus_rows"], 3, "a group left alone still holds surplus rows");
    let alone: BTreeSet<&str> = a["top_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["left_alone"] == true)
        .map(|g| g["sequence_stepid"].as_str().unwrap())
        .collect();
    assert_eq!(alone, ["step-delivered", "step-null"].into());
    let out = db.seqfix().args(["audit", "--no-progress"]).run().expect_code(0);
    assert!(out.stdout.contains("left alone"), "{}", out.stdout);

    // --status-rank naming the full order: the delivered group is decided, the NULL one not.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.csv");
    let dry = db
        .seqfix()
        .args(["dedupe", "--dry-run", "--status-rank", "Delivered,sent,pending", "--format", "json"])
        .args(["--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0)
        .json();
    assert_eq!((dry["planned_rows"].as_u64(), dry["survivor"]["left_alone_groups"].as_u64()), (Some(2), Some(1)));
    let planned: BTreeMap<String, String> = csv::Reader::from_path(&plan)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[0].into(), r[1].into()))
        .collect();
    assert_eq!(planned, map(&[("d1", "d2"), ("k1", "k2")]));
    // A status-rank that leaves out one of the group's statuses leaves that group alone.
    let dry = db
        .seqfix()
        .args(["dedupe", "--dry-run", "--status-rank", "sent,delivered", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!((dry["planned_rows"].as_u64(), dry["survivor"]["left_alone_groups"].as_u64()), (Some(1), Some(2)));

    // The default rule: only the known group goes; the others are counted, and left as they are.
    let j = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((j["deleted_rows"].as_u64(), j["planned_rows"].as_u64()), (Some(1), Some(1)));
    assert_eq!(j["survivor"]["left_alone_groups"], 2);
    assert_eq!(archived(&db), map(&[("k1", "k2")]));
    assert_eq!(live(&db), ["d1", "d2", "k2", "n1", "n2"].iter().map(|s| s.to_string()).collect());
    let out = db.seqfix().args(["dedupe", "--yes", "--no-progress"]).run().expect_code(0);
    assert!(out.stdout.contains("left alone"), "{}", out.stdout);

    // Bad flags change nothing.
    db.seqfix()
        .args(["dedupe", "--yes", "--keep", "oldest", "--status-rank", "sent"])
        .run()
        .expect_error("--status-rank");
    db.seqfix().args(["audit", "--status-rank", "sent,,pending"]).run().expect_error("--status-rank");
    db.seqfix().args(["audit", "--keep", "newest"]).run().expect_code(2);
}

/// A batch whose victims changed status after the plan, driven directly: a victim now sent
/// (so it ranks before the pending survivor) and one now `delivered` are never deleted,
/// their groups are reported; the survivor now sent, or an untouched group, go as planned.
#[test]
fn the_batch_decides_again_on_the_rows_it_locks() {
    use seqfix::dedupe::{execute_batch, PlanRow, Target, NOW_UNKNOWN, OUTRANKED};
    let db = TestDb::new("survivor_batch_redecides");
    db.create_schema();
    let mut c = db.conn();
    for (id, group, created) in [
        ("a-kept", "a", "2025-01-01 00:00:00"),
        ("a-victim", "a", "2025-01-01 00:00:01"),
        ("b-kept", "b", "2025-01-01 00:00:00"),
        ("b-victim", "b", "2025-01-01 00:00:01"),
        ("c-kept", "c", "2025-01-01 00:00:00"),
        ("c-victim", "c", "2025-01-01 00:00:01"),
        ("d-kept", "d", "2025-01-01 00:00:00"),
        ("d-victim", "d", "2025-01-01 00:00:01"),
    ] {
        put(&mut c, id, group, Some("pending"), Some(created));
    }
    let plan: Vec<PlanRow> = ["a", "b", "c", "d"]
        .iter()
        .map(|g| PlanRow {
            victim_id: format!("{g}-victim"),
            kept_id: format!("{g}-kept"),
            sequence_stepid: format!("step-{g}"),
            recipient_phone: "60100000000".into(),
            device_id: "dev".into(),
        })
        .collect();
    c.query_drop("UPDATE broadcast_messages SET status = 'sent' WHERE id = 'a-victim'").unwrap();
    c.query_drop("UPDATE broadcast_messages SET status = 'delivered' WHERE id = 'b-victim'").unwrap();
    c.query_drop("UPDATE broadcast_messages SET status = 'Sent' WHERE id = 'c-kept'").unwrap();

    let (mut sdb, info, archive) = db.batch_setup();
    let target = Target::new(&info, archive.clone(), &"r".repeat(36), seqfix::survivor::Rule::sent_first()).unwrap();
    let r = execute_batch(&mut sdb.conn, &target, &plan).unwrap();
    assert!(r.redone, "the first statement must decline the changed groups");
    assert_eq!(archived(&db), map(&[("c-victim", "c-kept"), ("d-victim", "d-kept")]));
    let mut skipped: Vec<(&str, &str)> =
        r.decision.skipped.iter().map(|s| (s.kept_id.as_str(), s.reason.as_str())).collect();
    skipped.sort();
    assert_eq!(skipped, [("a-kept", OUTRANKED), ("b-kept", NOW_UNKNOWN)]);
    assert!(live(&db).is_superset(&["a-kept", "a-victim", "b-kept", "b-victim"].map(String::from).into()));

    // Unchanged rows take the one-statement path under either rule: sent-first with
    // statuses in any letter case, status before age and equal times by id; --keep oldest
    // ignoring status.
    let one = |g: &str| PlanRow {
        victim_id: format!("{g}-victim"),
        kept_id: format!("{g}-kept"),
        sequence_stepid: format!("step-{g}"),
        recipient_phone: "60100000000".into(),
        device_id: "dev".into(),
    };
    put(&mut c, "f-kept", "f", Some("SENT"), Some("2025-01-01 00:00:09"));
    put(&mut c, "f-victim", "f", Some("Pending"), Some("2025-01-01 00:00:00"));
    put(&mut c, "g-kept", "g", Some("queued"), Some("2025-01-01 00:00:00"));
    put(&mut c, "g-victim", "g", Some("queued"), Some("2025-01-01 00:00:00"));
    put(&mut c, "h-kept", "h", Some("failed"), None);
    put(&mut c, "h-victim", "h", Some("failed"), None);
    let r = execute_batch(&mut sdb.conn, &target, &[one("f"), one("g"), one("h")]).unwrap();
    assert_eq!((r.archived, r.redone), (3, false));
    put(&mut c, "e-kept", "e", Some("delivered"), Some("2025-01-01 00:00:00"));
    put(&mut c, "e-victim", "e", Some("sent"), Some("2025-01-01 00:00:03"));
    let oldest = Target::new(&info, archive, &"o".repeat(36), seqfix::survivor::Rule::oldest()).unwrap();
    let r = execute_batch(&mut sdb.conn, &oldest, &[one("e")]).unwrap();
    assert_eq!((r.archived, r.decision.skipped.len(), r.redone), (1, 0, false));
}

/// Hand-made groups after generated rows (their ids start with 'z', after every generated
/// UUID), so that a run with batches of one victim reaches them late: the group's victim
/// is sent once the run has committed its first batch, and it must stay.
#[test]
fn a_copy_sent_between_the_plan_and_its_batch_is_never_deleted() {
    let db = TestDb::new("survivor_sent_mid_run");
    let rows = db.load_messages(&Spec::new(600, 37));
    let exp = Expected::of(&rows);
    assert!(exp.surplus() >= 20, "the generated victims come first and give the test time");
    let mut c = db.conn();
    put(&mut c, "a-kept", "mid", Some("pending"), Some("2024-01-01 00:00:00"));
    put(&mut c, "z-victim", "mid", Some("pending"), Some("2024-01-02 00:00:00"));
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "1", "--sleep", "20ms", "--no-progress", "--format", "json"])
        .spawn();
    let start = Instant::now();
    while db.conn().query_first::<u64, _>("SELECT COUNT(*) FROM seqfix_archive").ok().flatten().unwrap_or(0) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the run never committed a batch");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.query_drop("UPDATE broadcast_messages SET status = 'sent' WHERE id = 'z-victim'").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let live = live(&db);
    assert!(live.contains("z-victim") && live.contains("a-kept"), "the sent copy and the kept row stay");
    assert_eq!(archived(&db), exp.survivor_of(), "exactly the generated victims are archived");
    assert_eq!(j["skipped_groups"], 1);
    assert_eq!(j["skipped_examples"][0]["kept_id"], "a-kept");
    assert_eq!(j["skipped_examples"][0]["reason"], seqfix::dedupe::OUTRANKED);
    // The next run keeps the sent copy.
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert!(!crate::survivor::live(&db).contains("a-kept"));
    assert!(crate::survivor::live(&db).contains("z-victim"));
}

/// `created_at` with microseconds (DATETIME(6), TIMESTAMP(6)): copies in the same second
/// are ordered by the fraction alone, and audit and dedupe read the column at all.
#[test]
fn fractional_created_at_orders_by_microseconds() {
    for ty in ["DATETIME(6)", "TIMESTAMP(6)"] {
        let db = TestDb::new(&format!("survivor_micros_{}", &ty[..4].to_lowercase()));
        db.create_schema();
        let mut c = db.conn();
        c.query_drop(format!("ALTER TABLE broadcast_messages MODIFY created_at {ty} NULL DEFAULT NULL")).unwrap();
        // The larger id is older by one microsecond; a second group with sent copies only.
        put(&mut c, "a", "one", Some("pending"), Some("2025-06-01 10:00:00.000002"));
        put(&mut c, "b", "one", Some("pending"), Some("2025-06-01 10:00:00.000001"));
        put(&mut c, "c", "one", Some("pending"), Some("2025-06-01 10:00:00.000003"));
        put(&mut c, "d", "two", Some("sent"), Some("2025-06-01 10:00:00.999999"));
        put(&mut c, "e", "two", Some("sent"), Some("2025-06-01 10:00:00.100000"));
        put(&mut c, "f", "two", Some("sent"), None);
        if ty.starts_with("DATETIME") {
            // Before 1970, where UNIX_TIMESTAMP gives 0 or NULL.
            put(&mut c, "g", "three", Some("pending"), Some("1969-12-31 23:59:59.000001"));
            put(&mut c, "h", "three", Some("pending"), Some("1969-12-31 23:59:59.000002"));
            put(&mut c, "i", "three", Some("pending"), Some("1960-01-01 00:00:00.5"));
        }
        let a = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
        let groups = if ty.starts_with("DATETIME") { 3 } else { 2 };
        assert_eq!(a["duplicate_groups"], groups, "{ty}");
        assert_eq!(a["warnings"]["equal_created_groups"], 0, "{ty}: no two copies share a microsecond");
        let j = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
        let mut want = map(&[("a", "b"), ("c", "b"), ("d", "e"), ("f", "e")]);
        if ty.starts_with("DATETIME") {
            want.extend(map(&[("g", "i"), ("h", "i")]));
        }
        assert_eq!(archived(&db), want, "{ty}: {j}");
        assert_eq!(j["redone_batches"], 0, "{ty}: the one-statement path orders by microseconds too");
    }
}

/// A driver error about a row of unexpected types never shows the values (the phone
/// number).
#[test]
fn an_error_line_never_holds_row_text() {
    let db = TestDb::new("survivor_error_line");
    let row: mysql::Row =
        db.conn().query_first("SELECT '+60123456789' AS recipient_phone, 'x' AS id").unwrap().unwrap();
    let err = mysql::from_row_opt::<(i64, i64)>(row).unwrap_err();
    let err = anyhow::Error::new(mysql::Error::FromRowError(err.0)).context("reading the scan");
    let line = seqfix::outcome::error_line(&err);
    assert!(!line.contains("60123456789") && !line.contains("'x'"), "{line}");
    assert!(line.starts_with("reading the scan: "), "{line}");
    let value = mysql::from_value_opt::<i64>(mysql::Value::from("+60 12-345 6789")).unwrap_err();
    let line = seqfix::outcome::error_line(&anyhow::Error::new(mysql::Error::FromValueError(value.0)));
    assert!(!line.contains("345 6789"), "{line}");
}

/// The largest `--batch-size` on real rows: a full batch through the one-statement path (the
/// binary), and through the locking read that binds two ids per victim (driven directly,
/// with a survivor deleted under the plan so that the first statement falls back).
#[test]
fn the_largest_batch_size_works_on_real_rows() {
    use seqfix::dedupe::{execute_batch, PlanRow, Target};
    let max = seqfix::options::MAX_BATCH_SIZE as usize;
    let db = TestDb::new("survivor_max_batch");
    let spec = Spec { dup_fraction: 1.0, ..Spec::new(37_000, 43) };
    let rows = db.load_messages(&spec);
    let exp = Expected::of(&rows);
    assert!(exp.victims().len() > 2 * max, "{} victims", exp.victims().len());

    // The locking read with 2 x max ids.
    let groups = exp.decided_groups();
    let mut plan: Vec<PlanRow> = Vec::new();
    for g in &groups {
        for m in &g[1..] {
            plan.push(PlanRow {
                victim_id: m.id.clone(),
                kept_id: g[0].id.clone(),
                sequence_stepid: m.sequence_stepid.clone().unwrap(),
                recipient_phone: m.recipient_phone.clone(),
                device_id: m.device_id.clone(),
            });
        }
    }
    plan.truncate(max);
    let gone = &plan[0].kept_id;
    let lost = plan.iter().filter(|r| &r.kept_id == gone).count();
    let mut c = db.conn();
    c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (gone,)).unwrap();
    let (mut sdb, info, archive) = db.batch_setup();
    let target = Target::new(&info, archive, &"r".repeat(36), seqfix::survivor::Rule::sent_first()).unwrap();
    let r = execute_batch(&mut sdb.conn, &target, &plan).unwrap();
    assert_eq!(r.archived as usize, max - lost);

    // The binary, batches of the maximum: the first one full.
    let j = db
        .seqfix()
        .args(["dedupe", "--yes", "--format", "json", "--batch-size", &max.to_string()])
        .run()
        .expect_code(0)
        .json();
    let left = j["planned_rows"].as_u64().unwrap() as usize;
    assert!(left > max, "{left}");
    assert_eq!(j["deleted_rows"].as_u64().unwrap() as usize, left);
    assert_eq!(j["batches"].as_u64().unwrap() as usize, left.div_ceil(max));
    let a = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(a["surplus_rows"], 0);
    db.seqfix()
        .args(["dedupe", "--dry-run", "--batch-size", &(max + 1).to_string()])
        .run()
        .expect_error("--batch-size");
}
