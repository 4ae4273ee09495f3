//! `seqfix dedupe` and `seqfix restore` against generated data whose answer the test computes
//! itself (`Expected`): exactness, dry run, crashes of the process and of the server,
//! concurrent writers, a survivor deleted under a plan, restore, bad input, replica lag.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use seqfix_fixture::messages::{Message, Spec};

use crate::common::{admin_password, admin_user, enc, plan_file_records, put, Expected, Server, ServerOpts, TestDb};

fn set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// victim id → kept id, as the archive records it.
fn archived(db: &TestDb) -> BTreeMap<String, String> {
    db.conn().query("SELECT id, seqfix_kept_id FROM seqfix_archive").unwrap().into_iter().collect()
}

/// Every original row is live XOR archived: never both, never neither.
fn assert_live_xor_archived(db: &TestDb, rows: &[Message]) {
    let live = set(db.ids("broadcast_messages"));
    let arch: BTreeSet<String> =
        if db.has_table("seqfix_archive") { archived(db).into_keys().collect() } else { BTreeSet::new() };
    let both: Vec<&String> = live.intersection(&arch).collect();
    assert!(both.is_empty(), "rows both live and archived: {both:?}");
    let original: BTreeSet<String> = rows.iter().map(|m| m.id.clone()).collect();
    let union: BTreeSet<String> = live.union(&arch).cloned().collect();
    assert_eq!(union, original, "every original row must be live or archived");
}

/// After a complete dedupe: exactly the expected rows live, exactly the victims archived
/// with their survivors.
fn assert_exact(db: &TestDb, rows: &[Message]) {
    let exp = Expected::of(rows);
    let victims: BTreeSet<String> = exp.victims().into_iter().collect();
    let want_live: BTreeSet<String> = rows.iter().map(|m| m.id.clone()).filter(|id| !victims.contains(id)).collect();
    assert_eq!(set(db.ids("broadcast_messages")), want_live);
    assert_eq!(archived(db), exp.survivor_of());
    assert_eq!(db.count("broadcast_messages") + db.count("seqfix_archive"), rows.len() as u64);
}

fn run_status(db: &TestDb, run_id: &str) -> String {
    db.conn().exec_first("SELECT status FROM seqfix_runs WHERE run_id = ?", (run_id,)).unwrap().unwrap()
}

#[test]
fn deletes_exactly_the_victims_and_archives_them() {
    let db = TestDb::new("dedupe_exact");
    let rows = db.load_messages(&Spec::new(6_000, 31));
    let exp = Expected::of(&rows);
    assert!(exp.surplus() > 200, "the generator should make duplicates");
    let nulls = exp.duplicate_groups().iter().any(|g| g.iter().any(|m| m.created_at.is_none()));
    let ties = exp.duplicate_groups().iter().any(|g| g.len() > 1 && g[0].created_at == g[1].created_at);
    assert!(nulls && ties && rows.iter().any(|m| m.sequence_stepid.is_none()), "generator covers the hard cases");

    let j =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "100", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["dry_run"], false);
    assert_eq!(j["duplicate_groups"], exp.duplicate_groups().len() as u64);
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    assert_eq!(j["deleted_rows"], exp.surplus() as u64);
    assert_eq!(j["archived_rows"], exp.surplus() as u64);
    assert_eq!(j["skipped_groups"], 0);
    assert_eq!(j["batches"], exp.surplus().div_ceil(100) as u64);
    assert_eq!(j["redone_batches"], 0, "nothing changed: every batch takes the one-statement path");
    assert!(j["batch_times"]["max_ms"].as_f64().unwrap() > 0.0);
    assert_exact(&db, &rows);
    let run_id = j["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_status(&db, &run_id), "succeeded");
    let in_run: u64 = db
        .conn()
        .exec_first("SELECT COUNT(*) FROM seqfix_archive WHERE seqfix_run_id = ?", (&run_id,))
        .unwrap()
        .unwrap();
    assert_eq!(in_run, exp.surplus() as u64);

    // The batches took the victims in primary-key order: each batch (one archive
    // statement, so one seqfix_archived_at) holds at most 100 victims, all of them after
    // every victim of the batches before it.
    let batches: Vec<(String, u64, String, String)> = db
        .conn()
        .query(
            "SELECT CAST(seqfix_archived_at AS CHAR), COUNT(*), MIN(BINARY id), MAX(BINARY id) \
             FROM seqfix_archive GROUP BY seqfix_archived_at ORDER BY seqfix_archived_at",
        )
        .unwrap();
    assert_eq!(batches.len() as u64, j["batches"].as_u64().unwrap(), "one archive time per batch");
    for (at, n, _, _) in &batches {
        assert!(*n <= 100, "batch at {at} holds {n} victims");
    }
    for pair in batches.windows(2) {
        assert!(
            pair[0].3 < pair[1].2,
            "batch at {} reaches {} but the next starts at {}",
            pair[0].0,
            pair[0].3,
            pair[1].2
        );
    }

    // The archive holds the victims' values as generated.
    let by_id: BTreeMap<&str, &Message> = rows.iter().map(|m| (m.id.as_str(), m)).collect();
    let got: Vec<(String, String, String, Option<i64>, String)> = db
        .conn()
        .query("SELECT id, status, content, UNIX_TIMESTAMP(created_at), recipient_name FROM seqfix_archive")
        .unwrap();
    for (id, status, content, created, name) in got {
        let m = by_id[id.as_str()];
        assert_eq!(
            (status, content, created, name),
            (m.status.clone(), m.content.clone(), m.created_at, m.recipient_name.clone())
        );
    }

    // Deterministic rule: a second run finds nothing.
    let j2 = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j2["deleted_rows"], 0);
    assert_eq!(j2["duplicate_groups"], 0);
    assert_exact(&db, &rows);

    // The table report renders.
    let out = db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert!(out.stdout.contains("deleted rows"), "{}", out.stdout);
}

/// With nearly every row on one of two fingerprints (the test knob), dedupe deletes
/// exactly the generator's victims: a collision never merges two groups.
#[test]
fn fingerprint_collisions_change_nothing_in_what_is_deleted() {
    let db = TestDb::new("dedupe_collisions");
    let rows = db.load_messages(&Spec::new(4_000, 32));
    let j = db
        .seqfix()
        .env("SEQFIX_SCAN_FINGERPRINT_BITS", "1")
        .args(["dedupe", "--yes", "--batch-size", "100", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert!(j["scan"]["candidate_rows"].as_u64().unwrap() as usize > rows.len() / 2, "{}", j["scan"]);
    assert_exact(&db, &rows);
}

#[test]
fn dry_run_changes_nothing_and_writes_the_plan() {
    let db = TestDb::new("dedupe_dry");
    let rows = db.load_messages(&Spec::new(3_000, 32));
    let exp = Expected::of(&rows);
    let before = db.checksum("broadcast_messages");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.csv");
    let j = db
        .seqfix()
        .args(["dedupe", "--dry-run", "--format", "json", "--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(j["dry_run"], true);
    assert!(j["run_id"].is_null());
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    assert_eq!(j["duplicate_groups"], exp.duplicate_groups().len() as u64);
    assert_eq!(j["deleted_rows"], 0);
    let by_status_total: u64 = j["by_status"].as_array().unwrap().iter().map(|k| k["rows"].as_u64().unwrap()).sum();
    assert_eq!(by_status_total, exp.surplus() as u64);
    assert!(!j["examples"].as_array().unwrap().is_empty());
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_archive") && !db.has_table("seqfix_runs"));

    let mut got = BTreeMap::new();
    for rec in plan_file_records(&plan) {
        let key = (rec[2].to_string(), rec[3].to_string(), rec[4].to_string());
        let group = &exp.groups[&key];
        assert_eq!(group[0].id, rec[1], "kept id is the group's survivor");
        assert_eq!(&rec[5], "sent-first");
        assert!(["status", "oldest", "smallest-id"].contains(&&rec[6]), "{rec:?}");
        assert_eq!(&rec[7], group[0].status.as_str());
        got.insert(rec[0].to_string(), rec[1].to_string());
    }
    assert_eq!(got, exp.survivor_of());

    // Without a terminal and without --yes a real run refuses, nothing changed.
    db.seqfix().args(["dedupe"]).run().expect_error("pass --yes");
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_archive") && !db.has_table("seqfix_runs"));
}

/// A process killed with SIGKILL while the server was running its statement keeps its
/// connection, and so its advisory lock, until the server notices; wait for that.
fn wait_lock_free(db: &TestDb) {
    let name = format!("seqfix.dedupe.{}.broadcast_messages", db.name);
    let start = Instant::now();
    while db.conn().exec_first::<i64, _, _>("SELECT IS_FREE_LOCK(?)", (&name,)).unwrap() != Some(1) {
        assert!(start.elapsed() < Duration::from_secs(60), "the killed run's lock was never released");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn archived_count(db: &TestDb) -> u64 {
    db.conn().query_first("SELECT COUNT(*) FROM seqfix_archive").ok().flatten().unwrap_or(0)
}

/// Spawns a slow dedupe (small batches, a pause between them) and SIGKILLs it once the
/// archive holds `more` rows beyond `base` (0: at once, during the scan), plus `extra` to
/// land at varying points of the batch cycle.
fn kill_during(db: &TestDb, more: u64, extra: Duration) {
    wait_lock_free(db);
    let base = archived_count(db);
    let mut child =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "15", "--sleep", "40ms", "--no-progress"]).spawn();
    let start = Instant::now();
    while more > 0 && archived_count(db) < base + more && start.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("dedupe ended before it could be killed: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(extra);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
}

#[test]
fn sigkill_at_any_point_loses_nothing_and_a_rerun_finishes() {
    let db = TestDb::new("dedupe_sigkill");
    let rows = db.load_messages(&Spec::new(5_000, 33));
    let exp = Expected::of(&rows);
    assert!(exp.surplus() / 15 > 15, "enough batches to kill in the middle");
    // During the scan, then after some batches at different points of the batch cycle.
    for (more, extra_ms) in [(0, 30), (15, 0), (30, 7), (45, 21), (15, 33)] {
        kill_during(&db, more, Duration::from_millis(extra_ms));
        wait_lock_free(&db);
        assert_live_xor_archived(&db, &rows);
    }
    let n = archived_count(&db);
    assert!(n > 0 && n < exp.surplus() as u64, "the kills landed mid-run: {n} of {} archived", exp.surplus());
    let running: u64 =
        db.conn().query_first("SELECT COUNT(*) FROM seqfix_runs WHERE status = 'running'").unwrap().unwrap();
    assert!(running >= 4, "killed runs stay marked running");
    wait_lock_free(&db);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert_exact(&db, &rows);
}

#[test]
fn server_killed_mid_run_loses_nothing_and_a_rerun_finishes() {
    let mut server = Server::start(ServerOpts::default());
    let db = server.fresh_db("dedupe_server_kill");
    let rows = db.load_messages(&Spec::new(4_000, 34));
    let mut child =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "40ms", "--no-progress"]).spawn();
    // Kill the server once some batches have committed.
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let mut c = db.conn();
        let done: Option<u64> = c.query_first("SELECT COUNT(*) FROM seqfix_archive").ok().flatten();
        if done.unwrap_or(0) > 30 || start.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    server.kill();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("run dedupe again"), "{stderr}");
    server.restart();
    assert_live_xor_archived(&db, &rows);
    assert!(db.count("seqfix_archive") > 0);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert_exact(&db, &rows);
}

#[test]
fn concurrent_inserts_are_neither_lost_nor_blocked() {
    let db = TestDb::new("dedupe_concurrent");
    let rows = db.load_messages(&Spec::new(5_000, 35));
    let template = rows.iter().find(|m| m.sequence_stepid.is_some()).unwrap().clone();
    let mut child =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "50", "--sleep", "10ms", "--no-progress"]).spawn();
    let mut conn = db.conn();
    let mut inserted = Vec::new();
    let mut max_latency = Duration::ZERO;
    let mut n = 0u64;
    while child.try_wait().unwrap().is_none() || n < 20 {
        n += 1;
        // A new message: fresh id and fresh step, so never a duplicate of anything.
        let id = format!("c0ffee00-0000-4000-8000-{n:012}");
        let step = format!("5e9e0000-0000-4000-8000-{n:012}");
        let t = Instant::now();
        conn.exec_drop(
            "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, recipient_phone, message_type, \
             content, status, created_at, sequence_stepid) VALUES (?, ?, ?, ?, ?, 'text', 'hi', 'pending', NOW(), ?)",
            (&id, &template.user_id, &template.device_id, &template.sequence_id, &template.recipient_phone, &step),
        )
        .unwrap();
        max_latency = max_latency.max(t.elapsed());
        inserted.push(id);
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let live = set(db.ids("broadcast_messages"));
    for id in &inserted {
        assert!(live.contains(id), "concurrent insert {id} was lost");
    }
    // Generous bound tied to the batch lock wait timeout (5 s), not a speed claim: an
    // insert must never queue behind a lock dedupe holds for longer than a batch may.
    assert!(max_latency < Duration::from_secs(5), "an insert waited {max_latency:?}");
    let all: Vec<Message> = rows;
    let exp = Expected::of(&all);
    assert_eq!(archived(&db), exp.survivor_of());
    assert_eq!(db.count("broadcast_messages"), (all.len() - exp.surplus() + inserted.len()) as u64);
}

/// A batch whose rows others changed after the plan was made, one change per group, with
/// untouched groups around them: only the untouched victims go, each change is left as it
/// is and reported as the rules say.
#[test]
fn rows_changed_after_the_plan_are_left_alone() {
    use seqfix::dedupe::{execute_batch, PlanRow, Target};
    let db = TestDb::new("dedupe_changed_after_plan");
    let rows = db.load_messages(&Spec::new(3_000, 36));
    let exp = Expected::of(&rows);
    let groups = exp.duplicate_groups();
    let (big, small): (Vec<&Vec<Message>>, Vec<&Vec<Message>>) = groups.iter().partition(|g| g.len() >= 3);
    assert!(big.len() >= 3 && small.len() >= 4, "the sample has groups of two and of three or more");
    // survivor deleted; survivor no longer a sequence message; survivor's key changed;
    // one victim's key changed; one victim deleted; untouched (two of them).
    let (survivor_gone, survivor_not_seq, survivor_moved) = (small[0], small[1], small[2]);
    let (victim_moved, victim_gone, untouched) = (big[0], big[1], [small[3], big[2]]);
    let plan_of = |g: &Vec<Message>| -> Vec<PlanRow> {
        g[1..]
            .iter()
            .map(|m| PlanRow {
                victim_id: m.id.clone(),
                kept_id: g[0].id.clone(),
                sequence_stepid: m.sequence_stepid.clone().unwrap(),
                recipient_phone: m.recipient_phone.clone(),
                device_id: m.device_id.clone(),
            })
            .collect()
    };
    let all = [survivor_gone, untouched[0], survivor_not_seq, victim_moved, survivor_moved, victim_gone, untouched[1]];
    let plan: Vec<PlanRow> = all.iter().flat_map(|g| plan_of(g)).collect();
    let mut c = db.conn();
    c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (&survivor_gone[0].id,)).unwrap();
    c.exec_drop("UPDATE broadcast_messages SET sequence_stepid = NULL WHERE id = ?", (&survivor_not_seq[0].id,))
        .unwrap();
    c.exec_drop("UPDATE broadcast_messages SET recipient_phone = '+0000' WHERE id = ?", (&survivor_moved[0].id,))
        .unwrap();
    c.exec_drop("UPDATE broadcast_messages SET device_id = 'another-device' WHERE id = ?", (&victim_moved[1].id,))
        .unwrap();
    c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (&victim_gone[1].id,)).unwrap();

    let (mut sdb, info, archive) = db.batch_setup();
    let target = Target::new(&info, archive, &"r".repeat(36), seqfix::survivor::Rule::sent_first()).unwrap();
    let r = execute_batch(&mut sdb.conn, &target, &plan).unwrap();

    // What goes: every victim of the untouched groups, and the victims of the two groups
    // that lost one victim (to a key change or a delete) other than that one.
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for g in untouched.iter().chain([&victim_moved, &victim_gone]) {
        for m in &g[1..] {
            want.insert(m.id.clone(), g[0].id.clone());
        }
    }
    want.remove(&victim_moved[1].id);
    want.remove(&victim_gone[1].id);
    assert_eq!(archived(&db), want);
    assert_eq!(r.archived as usize, want.len());
    let live = set(db.ids("broadcast_messages"));
    for id in want.keys() {
        assert!(!live.contains(id), "{id} was archived, so it must be gone");
    }
    for g in [survivor_gone, survivor_not_seq, survivor_moved] {
        for m in &g[1..] {
            assert!(live.contains(&m.id), "a copy of a group whose survivor changed must stay");
        }
    }
    assert!(live.contains(&victim_moved[1].id), "a victim whose key changed stays");
    let mut skipped: Vec<(&str, &str)> =
        r.decision.skipped.iter().map(|s| (s.kept_id.as_str(), s.reason.as_str())).collect();
    skipped.sort();
    let mut want_skipped = vec![
        (survivor_gone[0].id.as_str(), "the kept row no longer exists"),
        (survivor_not_seq[0].id.as_str(), "the kept row is no longer a sequence message"),
        (survivor_moved[0].id.as_str(), "the kept row's key changed"),
    ];
    want_skipped.sort();
    assert_eq!(skipped, want_skipped);
    // The moved survivor's one victim no longer shares its key, and victim_moved's one changed victim.
    assert_eq!((r.decision.vanished, r.decision.changed), (1, 2));
}

/// The batch's statements sent as plain text with the values written as literals, as the
/// batches do on Galera (`txn::Statements::Text`), here on a plain server: ids that need
/// escaping (quotes, backslashes, a question mark) under either sql_mode, the one-statement
/// path and the locking-read path, and the check before COMMIT that the transaction is
/// still open, with the result written down here.
#[test]
fn text_statements_archive_and_delete_exactly_the_victims() {
    use seqfix::dedupe::txn::Statements;
    use seqfix::dedupe::{execute_batch, PlanRow, Target, OUTRANKED};
    let db = TestDb::new("dedupe_text_statements");
    db.create_schema();
    let mut c = db.conn();
    for (id, group, status, day) in [
        ("a'1\\", "a", "sent", 1),
        ("a'2\\", "a", "pending", 2),
        ("a\"3?", "a", "pending", 3),
        ("b-1", "b", "pending", 1),
        ("b-2", "b", "pending", 2),
        ("c-1", "c", "pending", 1),
        ("c-2", "c", "pending", 2),
        ("c-3", "c", "pending", 3),
        ("d\\'1", "d", "pending", 1),
        ("d\\'2", "d", "pending", 2),
    ] {
        put(&mut c, id, group, Some(status), Some(&format!("2024-01-0{day} 00:00:00")));
    }
    let plan = |group: &str, kept: &str, victims: &[&str]| -> Vec<PlanRow> {
        victims
            .iter()
            .map(|v| PlanRow {
                victim_id: v.to_string(),
                kept_id: kept.to_string(),
                sequence_stepid: format!("step-{group}"),
                recipient_phone: "60100000000".into(),
                device_id: "dev".into(),
            })
            .collect()
    };
    let (mut sdb, info, archive) = db.batch_setup();
    let text = |db: &mut seqfix::db::Db| Statements::Text {
        no_backslash_escapes: seqfix::db::no_backslash_escapes(db).unwrap(),
        flavor: db.server.flavor,
    };
    let statements = text(&mut sdb);
    assert!(matches!(statements, Statements::Text { no_backslash_escapes: false, .. }));
    let target = Target::new(&info, archive.clone(), &"t".repeat(36), seqfix::survivor::Rule::sent_first())
        .unwrap()
        .with_statements(statements);

    // Nothing changed since the plan: the one-statement path.
    let first = [plan("a", "a'1\\", &["a'2\\", "a\"3?"]), plan("b", "b-1", &["b-2"])].concat();
    let r = execute_batch(&mut sdb.conn, &target, &first).unwrap();
    assert_eq!((r.archived, r.redone), (3, false));
    let mut want: BTreeMap<String, String> =
        [("a'2\\", "a'1\\"), ("a\"3?", "a'1\\"), ("b-2", "b-1")].map(|(v, k)| (v.into(), k.into())).into();
    assert_eq!(archived(&db), want);

    // A victim sent since the plan, under NO_BACKSLASH_ESCAPES: the locking-read path
    // leaves its group alone and takes the other.
    c.exec_drop("UPDATE broadcast_messages SET status = 'sent' WHERE id = 'c-3'", ()).unwrap();
    sdb.conn.query_drop("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')").unwrap();
    let statements = text(&mut sdb);
    assert!(matches!(statements, Statements::Text { no_backslash_escapes: true, .. }));
    let target = target.with_statements(statements);
    let second = [plan("c", "c-1", &["c-2", "c-3"]), plan("d", "d\\'1", &["d\\'2"])].concat();
    let r = execute_batch(&mut sdb.conn, &target, &second).unwrap();
    assert_eq!((r.archived, r.redone), (1, true));
    let skipped: Vec<(&str, u64, &str)> =
        r.decision.skipped.iter().map(|s| (s.kept_id.as_str(), s.rows_kept, s.reason.as_str())).collect();
    assert_eq!(skipped, [("c-1", 2, OUTRANKED)]);
    want.insert("d\\'2".into(), "d\\'1".into());
    assert_eq!(archived(&db), want);
    let live = set(db.ids("broadcast_messages"));
    let want_live: BTreeSet<String> = ["a'1\\", "b-1", "c-1", "c-2", "c-3", "d\\'1"].map(String::from).into();
    assert_eq!(live, want_live);
}

/// Two groups whose kept rows are deleted while the run is under way, their victims
/// interleaved in primary-key order (a1 < b1 < a2 < b2) so that batches of one victim
/// alternate between them: both groups are left alone and each is counted once.
#[test]
fn groups_whose_kept_row_goes_mid_run_are_skipped_and_counted_once() {
    let db = TestDb::new("dedupe_skipped_mid_run");
    let rows = db.load_messages(&Spec::new(600, 37));
    let exp = Expected::of(&rows);
    assert!(exp.surplus() >= 20, "the generated victims come first and give the test time");
    let mut c = db.conn();
    // Generated ids are UUIDs (hex digits and dashes): ids starting with 'z' sort after them.
    for (id, group, created) in [
        ("a-kept", "a", "2024-01-01 00:00:00"),
        ("z-1-a", "a", "2024-01-02 00:00:00"),
        ("z-3-a", "a", "2024-01-03 00:00:00"),
        ("b-kept", "b", "2024-01-01 00:00:00"),
        ("z-2-b", "b", "2024-01-02 00:00:00"),
        ("z-4-b", "b", "2024-01-03 00:00:00"),
    ] {
        put(&mut c, id, group, Some("pending"), Some(created));
    }
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "1", "--sleep", "20ms", "--no-progress", "--format", "json"])
        .spawn();
    let start = Instant::now();
    while archived_count(&db) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the run never committed a batch");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.query_drop("DELETE FROM broadcast_messages WHERE id IN ('a-kept', 'b-kept')").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["surplus_rows"], exp.surplus() as u64 + 4);
    assert_eq!(j["skipped_groups"], 2);
    assert_eq!(j["skipped_rows"], 4);
    assert_eq!(j["deleted_rows"], exp.surplus() as u64);
    assert_eq!(archived(&db), exp.survivor_of(), "exactly the generated victims are archived");
    let live = set(db.ids("broadcast_messages"));
    for id in ["z-1-a", "z-2-b", "z-3-a", "z-4-b"] {
        assert!(live.contains(id), "{id} lost its kept row mid-run and must stay");
    }
}

#[test]
fn restore_puts_every_row_back() {
    let db = TestDb::new("dedupe_restore");
    let rows = db.load_messages(&Spec::new(3_000, 37));
    let exp = Expected::of(&rows);
    let before = db.checksum("broadcast_messages");
    let j = db.seqfix().args(["dedupe", "--yes", "--batch-size", "70", "--format", "json"]).run().expect_code(0).json();
    let run_id = j["run_id"].as_str().unwrap().to_string();
    assert_exact(&db, &rows);

    // Unknown run: clear error, nothing changed.
    let after_dedupe = db.checksum("broadcast_messages");
    db.seqfix()
        .args(["restore", "--yes", "--run", "00000000-0000-4000-8000-000000000000"])
        .run()
        .expect_error("unknown run");
    db.seqfix().args(["restore", "--yes", "--run", "nope"]).run().expect_error("not a run id");

    // With the unique index in place restore refuses and says how to drop it.
    db.conn()
        .query_drop(
            "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)",
        )
        .unwrap();
    let with_index = db.checksum("broadcast_messages");
    db.seqfix().args(["restore", "--yes", "--run", &run_id]).run().expect_error("seqfix migrate --down");
    assert_eq!(db.checksum("broadcast_messages"), with_index);
    db.conn().query_drop("ALTER TABLE broadcast_messages DROP INDEX unique_sequence_message").unwrap();
    assert_eq!(db.checksum("broadcast_messages"), after_dedupe);

    let dry = db.seqfix().args(["restore", "--dry-run", "--run", &run_id, "--format", "json"]).run().expect_code(0);
    assert_eq!(dry.json()["archived_rows"], exp.surplus() as u64);
    assert_eq!(db.checksum("broadcast_messages"), after_dedupe);

    let r = db
        .seqfix()
        .args(["restore", "--yes", "--batch-size", "50", "--run", &run_id, "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(r["restored_rows"], exp.surplus() as u64);
    assert_eq!(db.checksum("broadcast_messages"), before, "row for row the original table");
    assert_eq!(db.count("seqfix_archive"), 0);
    assert_eq!(run_status(&db, r["restore_run_id"].as_str().unwrap()), "succeeded");
}

/// A table with columns the server computes (virtual and stored): dedupe archives their
/// values, and restore writes back only the other columns (the server refuses values for
/// computed ones), so the table is row for row the original again.
#[test]
fn restore_puts_rows_back_into_a_table_with_generated_columns() {
    let db = TestDb::new("restore_generated");
    let rows = db.load_messages(&Spec::new(800, 41));
    db.conn()
        .query_drop(
            "ALTER TABLE broadcast_messages \
             ADD COLUMN phone_digits VARCHAR(50) AS (REPLACE(recipient_phone, '+', '')) VIRTUAL, \
             ADD COLUMN status_upper VARCHAR(50) AS (UPPER(status)) STORED",
        )
        .unwrap();
    let before = db.checksum("broadcast_messages");
    let j = db.seqfix().args(["dedupe", "--yes", "--batch-size", "40", "--format", "json"]).run().expect_code(0).json();
    assert_exact(&db, &rows);
    let archived_digits: u64 = db
        .conn()
        .query_first("SELECT COUNT(*) FROM seqfix_archive WHERE phone_digits = REPLACE(recipient_phone, '+', '')")
        .unwrap()
        .unwrap();
    assert_eq!(archived_digits, Expected::of(&rows).surplus() as u64, "the archive keeps the computed values");

    let run_id = j["run_id"].as_str().unwrap();
    let r = db.seqfix().args(["restore", "--yes", "--run", run_id, "--format", "json"]).run().expect_code(0).json();
    assert_eq!(r["restored_rows"], Expected::of(&rows).surplus() as u64);
    assert_eq!(db.checksum("broadcast_messages"), before, "row for row the original table");
    assert_eq!(db.count("seqfix_archive"), 0);
}

/// Restore is as destructive as dedupe (rows move between the archive and the table):
/// killed at several points, every row stays live XOR archived, and running the same
/// restore again brings the table back to the original, row for row.
#[test]
fn restore_killed_mid_run_loses_nothing_and_a_rerun_finishes() {
    let db = TestDb::new("restore_sigkill");
    let rows = db.load_messages(&Spec::new(3_000, 71));
    let before = db.checksum("broadcast_messages");
    let j = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    let run_id = j["run_id"].as_str().unwrap().to_string();
    let total = archived_count(&db);
    assert!(total > 100, "enough archived rows for many small batches: {total}");
    for (fewer, extra_ms) in [(5, 0), (10, 17), (20, 31)] {
        wait_lock_free(&db);
        let base = archived_count(&db);
        let mut child = db
            .seqfix()
            .args(["restore", "--yes", "--run", &run_id, "--batch-size", "5", "--sleep", "40ms", "--no-progress"])
            .spawn();
        let start = Instant::now();
        while archived_count(&db) + fewer > base && start.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().unwrap();
                panic!("restore ended before it could be killed: {}", String::from_utf8_lossy(&out.stderr));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(extra_ms));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        // The server may still be finishing the killed client's last COMMIT: wait until its
        // session is gone (the lock is released then), or the two reads below race it.
        wait_lock_free(&db);
        assert_live_xor_archived(&db, &rows);
    }
    let left = archived_count(&db);
    assert!(left > 0 && left < total - 30, "the kills landed mid-run: {left} of {total} still archived");
    wait_lock_free(&db);
    let r = db.seqfix().args(["restore", "--yes", "--run", &run_id, "--format", "json"]).run().expect_code(0).json();
    assert_eq!(r["restored_rows"], left);
    assert_eq!(db.checksum("broadcast_messages"), before, "row for row the original table");
    assert_eq!(db.count("seqfix_archive"), 0);
}

#[test]
fn bad_input_changes_nothing() {
    let db = TestDb::new("dedupe_bad_input");
    db.load_messages(&Spec::new(1_000, 38));
    let before = db.checksum("broadcast_messages");

    db.seqfix().args(["dedupe", "--yes", "--batch-size", "0"]).run().expect_error("--batch-size must be between 1");
    db.seqfix().args(["dedupe", "--yes", "--archive-table", "a`b"]).run().expect_error("invalid archive table name");
    db.seqfix()
        .args(["dedupe", "--yes", "--archive-table", "broadcast_messages"])
        .run()
        .expect_error("--archive-table must differ");

    // A user without DELETE: refused before anything is created.
    let url = db.user_with("seqfix_nodel", "nd-pw", "SELECT, INSERT, CREATE");
    crate::common::Seqfix::new()
        .args(["--database-url", &url, "dedupe", "--yes"])
        .run()
        .expect_error("may not delete from");
    assert!(!db.has_table("seqfix_archive") && !db.has_table("seqfix_runs"));

    // --replica that cannot be reached.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("mysql://u:p@127.0.0.1:{port}/x");
    db.seqfix().args(["dedupe", "--yes", "--replica", &dead]).run().expect_error("--replica u@127.0.0.1");
    // A --replica that is not a replica; a lag limit without a replica.
    db.seqfix().args(["dedupe", "--yes", "--replica", &db.url]).run().expect_error("is not a replica");
    db.seqfix()
        .args(["dedupe", "--yes", "--max-replica-lag", "5s"])
        .run()
        .expect_error("--max-replica-lag needs at least one --replica");
    assert!(!db.has_table("seqfix_archive") && !db.has_table("seqfix_runs"));

    // Another dedupe holds the lock: the error names its connection.
    let mut holder = db.conn();
    let got: i64 = holder
        .exec_first("SELECT GET_LOCK(?, 0)", (format!("seqfix.dedupe.{}.broadcast_messages", db.name),))
        .unwrap()
        .unwrap();
    assert_eq!(got, 1);
    let holder_id = holder.connection_id();
    db.seqfix().args(["dedupe", "--yes"]).run().expect_error(&format!("held by connection {holder_id}"));
    drop(holder);

    // An archive table of another structure.
    db.conn().query_drop("CREATE TABLE seqfix_archive (id INT PRIMARY KEY, note TEXT)").unwrap();
    let archive_before = db.checksum("seqfix_archive");
    db.seqfix().args(["dedupe", "--yes"]).run().expect_error("exists but cannot hold rows");
    assert_eq!(db.checksum("seqfix_archive"), archive_before);

    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!db.has_table("seqfix_runs"));
}

#[test]
fn sigint_finishes_the_batch_and_marks_the_run_interrupted() {
    let db = TestDb::new("dedupe_sigint");
    let rows = db.load_messages(&Spec::new(3_000, 39));
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "100ms", "--no-progress", "--format", "json"])
        .spawn();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
        let n: Option<u64> = db.conn().query_first("SELECT COUNT(*) FROM seqfix_archive").ok().flatten();
        if n.unwrap_or(0) >= 20 {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["status"], "interrupted");
    let deleted = j["deleted_rows"].as_u64().unwrap();
    assert!(deleted > 0 && deleted < Expected::of(&rows).surplus() as u64);
    assert_eq!(db.count("seqfix_archive"), deleted, "the last batch was committed whole");
    assert_live_xor_archived(&db, &rows);
    assert_eq!(run_status(&db, j["run_id"].as_str().unwrap()), "interrupted");
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert_exact(&db, &rows);
}

#[test]
fn waits_for_a_lagging_replica() {
    let primary = Server::start(ServerOpts { args: vec!["--log-bin=binlog".into(), "--server-id=11".into()] });
    let replica = Server::start(ServerOpts { args: vec!["--server-id=12".into()] });
    replica.replicate_from(&primary, true);
    let mut rc = replica.admin_conn();
    let db = primary.fresh_db("dedupe_replica");
    let rows = db.load_messages(&Spec::new(2_000, 40));
    let replica_url =
        format!("mysql://{}:{}@127.0.0.1:{}/{}", enc(&admin_user()), enc(&admin_password()), replica.port, db.name);
    let start = Instant::now();
    loop {
        let n: Option<u64> =
            rc.query_first(format!("SELECT COUNT(*) FROM `{}`.broadcast_messages", db.name)).ok().flatten();
        if n == Some(rows.len() as u64) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "replica did not catch up");
        std::thread::sleep(Duration::from_millis(100));
    }
    replica.replica_sql_thread(false);
    let before = db.checksum("broadcast_messages");
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--no-progress", "--replica", &replica_url, "--max-replica-lag", "1s"])
        .spawn();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(db.checksum("broadcast_messages"), before, "nothing deleted while the replica is stopped");
    replica.replica_sql_thread(true);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("is not replicating") && stderr.contains("SQL thread"), "{stderr}");
    assert_exact(&db, &rows);
}

#[test]
fn copies_equal_under_the_collation_are_duplicates() {
    // Hand-made: the unique index compares with utf8mb4_unicode_ci, so a copy whose step and
    // device ids differ only in letter case is a duplicate; the batch's re-check must agree.
    let db = TestDb::new("dedupe_collation");
    db.create_schema();
    let base = seqfix_fixture::messages::generate(&Spec::new(50, 41)).find(|m| m.sequence_stepid.is_some()).unwrap();
    let step = "abcdef00-0000-4000-8000-000000000001".to_string();
    let device = "abcdef00-0000-4000-8000-0000000000d1".to_string();
    let row = |id: &str, step: &str, device: &str, created: Option<i64>| Message {
        id: id.into(),
        sequence_stepid: Some(step.into()),
        device_id: device.into(),
        recipient_phone: "60123456789".into(),
        created_at: created,
        ..base.clone()
    };
    let rows = vec![
        row("00000000-0000-4000-8000-00000000000b", &step, &device, Some(1_750_000_000)),
        row("00000000-0000-4000-8000-00000000000a", &step.to_uppercase(), &device.to_uppercase(), Some(1_750_000_001)),
        row("00000000-0000-4000-8000-00000000000c", &step.to_uppercase(), &device, None),
    ];
    db.insert(&rows);
    let j = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["deleted_rows"], 2);
    assert_eq!(db.ids("broadcast_messages"), ["00000000-0000-4000-8000-00000000000b"]);
    let want: BTreeMap<String, String> = [
        ("00000000-0000-4000-8000-00000000000a".to_string(), "00000000-0000-4000-8000-00000000000b".to_string()),
        ("00000000-0000-4000-8000-00000000000c".to_string(), "00000000-0000-4000-8000-00000000000b".to_string()),
    ]
    .into();
    assert_eq!(archived(&db), want);
}

#[test]
fn metrics_file_holds_the_run_figures() {
    let db = TestDb::new("dedupe_metrics");
    let rows = db.load_messages(&Spec::new(1_200, 43));
    let exp = Expected::of(&rows);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedupe.prom");
    db.seqfix()
        .args(["dedupe", "--yes", "--batch-size", "100", "--metrics-file", path.to_str().unwrap()])
        .run()
        .expect_code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not valid exposition text ({e:?}):\n{text}"));
    let value = |name: &str| -> f64 {
        let samples: Vec<f64> = parsed.families[name]
            .iter_samples()
            .map(|s| match &s.value {
                openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
                other => panic!("{name} is not a gauge: {other:?}"),
            })
            .collect();
        assert_eq!(samples.len(), 1, "{name} in\n{text}");
        samples[0]
    };
    assert_eq!(value("seqfix_duplicate_groups"), exp.duplicate_groups().len() as f64);
    assert_eq!(value("seqfix_dedupe_deleted_rows"), exp.surplus() as f64);
    assert_eq!(value("seqfix_dedupe_archived_rows"), exp.surplus() as f64);
    assert_eq!(value("seqfix_dedupe_batches"), exp.surplus().div_ceil(100) as f64);
    assert_eq!(value("seqfix_dry_run"), 0.0);
}

/// Above `scan::confirm::run_rows` (20,000 rows) the scan's sort writes sorted runs to files in
/// TMPDIR and merges them; the plan must be as exact as when it sorts in memory, the files
/// must be gone afterwards, and an unusable TMPDIR must be one clear error.
#[test]
fn plan_is_exact_when_the_sort_spills_to_temporary_files() {
    let db = TestDb::new("dedupe_spill");
    // Most messages duplicated, so that the candidate rows the server sends (every row of a
    // duplicate group, and then some) fill several of the client's sort runs.
    let rows = db.load_messages(&Spec { dup_fraction: 0.6, ..Spec::new(60_000, 61) });
    let exp = Expected::of(&rows);
    let seq_rows = rows.iter().filter(|m| m.sequence_stepid.is_some()).count();
    let in_groups: usize = exp.duplicate_groups().iter().map(|g| g.len()).sum();
    assert!(in_groups > 2 * seqfix::scan::confirm::run_rows(in_groups as u64), "the sort must need several runs");
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan.csv");
    let sort_dir = tmp.path().join("sort");
    std::fs::create_dir(&sort_dir).unwrap();
    let j = db
        .seqfix()
        .env("TMPDIR", sort_dir.to_str().unwrap())
        .args(["dedupe", "--dry-run", "--format", "json", "--plan-file", plan.to_str().unwrap()])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(j["sequence_messages"], seq_rows as u64);
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    let got: BTreeMap<String, String> = csv::Reader::from_path(&plan)
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(got, exp.survivor_of());
    assert_eq!(std::fs::read_dir(&sort_dir).unwrap().count(), 0, "the sort's files are removed");

    let before = db.checksum("broadcast_messages");
    let missing = tmp.path().join("missing");
    db.seqfix()
        .env("TMPDIR", missing.to_str().unwrap())
        .args(["audit"])
        .run()
        .expect_code(2)
        .expect_error("cannot sort the scan in the temporary directory (set TMPDIR to a writable directory");
    db.seqfix()
        .env("TMPDIR", missing.to_str().unwrap())
        .args(["dedupe", "--yes"])
        .run()
        .expect_code(2)
        .expect_error("(set TMPDIR to a writable directory");
    assert_eq!(db.checksum("broadcast_messages"), before);

    // The real run also sorts its plan by primary key, in runs of `PLAN_RUN_ROWS` victims:
    // exact, and its files gone too.
    assert!(exp.surplus() > seqfix::dedupe::PLAN_RUN_ROWS, "the plan's sort must spill: {}", exp.surplus());
    let j = db
        .seqfix()
        .env("TMPDIR", sort_dir.to_str().unwrap())
        .args(["dedupe", "--yes", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert_eq!(j["deleted_rows"], exp.surplus() as u64);
    assert_exact(&db, &rows);
    assert_eq!(std::fs::read_dir(&sort_dir).unwrap().count(), 0, "the plan's sort files are removed");
}

const DEDUPE_LEASE: &str = "seqfix.dedupe.broadcast_messages";

/// The lease `(fence, renewals, live)` of the dedupe family on broadcast_messages.
fn dedupe_lease(db: &TestDb) -> (u64, u64, i64) {
    db.conn()
        .exec_first(
            "SELECT fence, renewals, COALESCE(expires_at > NOW(6), 0) FROM seqfix_leases WHERE name = ?",
            (DEDUPE_LEASE,),
        )
        .unwrap()
        .unwrap()
}

/// dedupe, restore and --empty-steps-to-null share one cluster-wide lease per table: while
/// a run on another node holds it (written here as a claim there writes it: a new holder,
/// its node, the next fence, a live expiry), each stops with the lock-held case's line and
/// exit code, naming the holder, and changes nothing; once it expired they work. A run
/// claims it once (fence + 1), renews it in every batch and releases it at the end.
#[test]
fn a_lease_held_on_another_node_stops_dedupe_restore_and_empty_steps() {
    let db = TestDb::new("dedupe_lease_held");
    let rows = db.load_messages(&Spec::new(600, 91));
    let original = db.checksum("broadcast_messages");
    let j = db.seqfix().args(["dedupe", "--yes", "--batch-size", "10", "--format", "json"]).run().expect_code(0).json();
    assert_exact(&db, &rows);
    let run_id = j["run_id"].as_str().unwrap().to_string();
    let batches = j["batches"].as_u64().unwrap();
    assert!(batches > 2, "{j}");
    // One claim; each batch renewed it, and it was extended once before the batches.
    assert_eq!(dedupe_lease(&db), (1, batches + 1, 0), "claimed once, renewed per batch, released");

    let mut c = db.conn();
    // Rows for --empty-steps-to-null, and a new duplicate for dedupe.
    for (id, step) in [("e-1", ""), ("e-2", ""), ("n-1", "step-n"), ("n-2", "step-n")] {
        c.exec_drop(
            "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, \
             message_type, content, status, created_at) VALUES (?, 'u', 'dev', 'seq', ?, '60100000000', 'text', 'hi', \
             'pending', NOW())",
            (id, step),
        )
        .unwrap();
    }
    c.exec_drop(
        "UPDATE seqfix_leases SET holder = 'other-run', node = 'node2 (db2:3306)', client_host = 'cron2', pid = 7, \
         fence = fence + 1, renewals = 0, claimed_at = NOW(6), expires_at = NOW(6) + INTERVAL 1 MINUTE WHERE name = ?",
        (DEDUPE_LEASE,),
    )
    .unwrap();
    let state =
        |db: &TestDb| (db.checksum("broadcast_messages"), db.checksum("seqfix_archive"), db.count("seqfix_runs"));
    let before = state(&db);
    let held = format!(
        "another seqfix dedupe or restore is running: the lease \"{DEDUPE_LEASE}\" is held by run other-run on node2 \
         (db2:3306) (seqfix on cron2, pid 7), fence 2"
    );
    db.seqfix().args(["dedupe", "--yes"]).run().expect_error(&held);
    db.seqfix().args(["restore", "--yes", "--run", &run_id]).run().expect_error(&held);
    db.seqfix().args(["dedupe", "--empty-steps-to-null", "--yes"]).run().expect_error(&held);
    assert_eq!(state(&db), before, "nothing changed");
    assert_eq!(dedupe_lease(&db), (2, 0, 1), "the other run's lease is as it was");
    // status names the holder, as it does for the process lease.
    let j = db.seqfix().args(["status", "--format", "json", "--skip-duplicates"]).run().json();
    assert_eq!(
        (j["dedupe_lease"]["holder"].as_str(), j["dedupe_lease"]["held"].as_bool()),
        (Some("other-run"), Some(true))
    );
    let check = j["checks"].as_array().unwrap().iter().find(|c| c["name"] == "dedupe_lock").cloned().unwrap();
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("lease held by run other-run on node2 (db2:3306) (seqfix on cron2, pid 7), fence 2"),
        "{detail}"
    );
    assert_eq!(check["state"], "ok");

    // Expired: free again. The new duplicate goes, then the first run's rows come back.
    c.exec_drop("UPDATE seqfix_leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE name = ?", (DEDUPE_LEASE,))
        .unwrap();
    let j = db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["deleted_rows"], 1);
    assert_eq!(dedupe_lease(&db).0, 3);
    c.query_drop("DELETE FROM broadcast_messages WHERE id IN ('e-1', 'e-2', 'n-1')").unwrap();
    c.exec_drop("DELETE FROM seqfix_archive WHERE seqfix_run_id <> ?", (&run_id,)).unwrap();
    db.seqfix().args(["restore", "--yes", "--run", &run_id]).run().expect_code(0);
    assert_eq!(db.checksum("broadcast_messages"), original, "row for row the original table");
    assert_eq!(dedupe_lease(&db).0, 4);
    assert_eq!(dedupe_lease(&db).2, 0, "released");
}

/// Another run claims the lease in the middle of a dedupe (a new holder and the next fence,
/// as a claim on another node writes them): the dedupe commits no further batch (its next
/// renewal changes no row), stops with "lease lost" (exit 2, one line, the ledger row
/// failed), every row live or archived and never both, each archived one a victim with its
/// survivor; once the lease is free a new dedupe finishes the job exactly.
#[test]
fn a_dedupe_whose_lease_was_taken_commits_no_further_batch() {
    let db = TestDb::new("dedupe_lease_taken");
    let rows = db.load_messages(&Spec::new(3_000, 93));
    let exp = Expected::of(&rows);
    let child = db
        .seqfix()
        .args(["dedupe", "--yes", "--batch-size", "10", "--sleep", "40ms", "--no-progress", "--format", "json"])
        .spawn();
    db.wait_archived_more_than(30);
    let mut c = db.conn();
    c.exec_drop(
        "UPDATE seqfix_leases SET holder = 'thief', node = 'elsewhere:3306', fence = fence + 1, renewals = 0, \
         claimed_at = NOW(6), expires_at = NOW(6) + INTERVAL 1 MINUTE WHERE name = ?",
        (DEDUPE_LEASE,),
    )
    .unwrap();
    assert_eq!(c.affected_rows(), 1);
    // The update waited for any batch holding the lease's row: what is archived now is final.
    let at_steal = archived_count(&db);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("lease lost: the lease \"{DEDUPE_LEASE}\" (fence 1)")), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| !l.trim().is_empty()).count(), 1, "{stderr}");
    assert_eq!(archived_count(&db), at_steal, "no batch committed after the lease was taken");
    assert!(at_steal < exp.surplus() as u64, "the run was stopped before the end");
    assert_live_xor_archived(&db, &rows);
    let survivors = exp.survivor_of();
    for (victim, kept) in archived(&db) {
        assert_eq!(survivors.get(&victim), Some(&kept), "{victim} is a victim of {kept}");
    }
    let (status,): (String,) =
        c.query_first("SELECT status FROM seqfix_runs WHERE command = 'dedupe'").unwrap().unwrap();
    assert_eq!(status, "failed");

    c.exec_drop("UPDATE seqfix_leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE name = ?", (DEDUPE_LEASE,))
        .unwrap();
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert_exact(&db, &rows);
}
