//! `seqfix migrate` against generated data: refusal while duplicates remain, success after
//! removing them, idempotence, hand-made indexes, `--down`, recovery of an unfinished run, a
//! tampered history and bad input. Sessions competing with migrate: `migrate_locks.rs`.
use std::hash::Hasher;

use mysql::prelude::Queryable;
use mysql::Conn;
use seqfix_fixture::messages::{Message, Spec};

use crate::common::Expected;
use crate::common::{Run, Seqfix, TestDb};

const KEY: [&str; 3] = ["sequence_stepid", "recipient_phone", "device_id"];

/// (index name, non_unique, columns in order) of the messages table.
pub(crate) fn indexes(db: &TestDb) -> Vec<(String, bool, Vec<String>)> {
    let rows: Vec<(String, i64, String)> = db
        .conn()
        .exec(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'broadcast_messages' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (),
        )
        .unwrap();
    let mut out: Vec<(String, bool, Vec<String>)> = Vec::new();
    for (name, non_unique, col) in rows {
        match out.last_mut() {
            Some(last) if last.0 == name => last.2.push(col),
            _ => out.push((name, non_unique != 0, vec![col])),
        }
    }
    out
}

pub(crate) fn has_index(db: &TestDb, name: &str) -> bool {
    indexes(db).iter().any(|(n, _, _)| n == name)
}

pub(crate) fn history_exists(db: &TestDb) -> bool {
    db.has_table("seqfix_schema_history")
}

/// (version, success, finished, checksum, installed_by, error) rows of the history.
#[allow(clippy::type_complexity)]
pub(crate) fn history(db: &TestDb) -> Vec<(u32, bool, bool, String, String, Option<String>)> {
    if !history_exists(db) {
        return vec![];
    }
    let rows: Vec<(u32, i64, Option<String>, String, String, Option<String>)> = db
        .conn()
        .query(
            "SELECT version, success, CAST(finished_at AS CHAR), checksum, installed_by, error \
             FROM seqfix_schema_history WHERE table_name = 'broadcast_messages' ORDER BY version",
        )
        .unwrap();
    rows.into_iter().map(|(v, s, f, c, by, e)| (v, s != 0, f.is_some(), c, by, e)).collect()
}

/// The recorded checksum, computed here from the migration file itself: SipHash-1-3, zero
/// keys, over the template with CRLF normalised (what docs/usage.md specifies).
pub(crate) fn expected_checksum() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations/0001_unique_sequence_message.up.sql");
    let text = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    h.write(text.as_bytes());
    format!("{:016x}", h.finish())
}

pub(crate) fn current_user(db: &TestDb) -> String {
    db.conn().query_first("SELECT CURRENT_USER()").unwrap().unwrap()
}

/// Loads generated messages and deletes, by plain SQL, the victims the test computes itself.
pub(crate) fn clean_table(db: &TestDb, rows: usize, seed: u64) -> Vec<Message> {
    let rows = db.load_messages(&Spec::new(rows, seed));
    let mut c = db.conn();
    for v in Expected::of(&rows).victims() {
        c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (v,)).unwrap();
    }
    rows
}

pub(crate) fn versions(v: &serde_json::Value) -> Vec<u64> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x.as_u64().unwrap()).collect()
}

/// `seqfix migrate` for tests that are not about long transactions: the test server is
/// shared by tests running in parallel, whose open transactions the preflight would see
/// (INNODB_TRX does not say which table a transaction touched) and wait for.
pub(crate) fn mig(db: &TestDb) -> Seqfix {
    db.seqfix().args(["migrate", "--max-trx-age", "1h"])
}

/// Exit 1 with exactly one line on stderr containing every needle.
pub(crate) fn expect_refusal(run: Run, needles: &[&str]) -> Run {
    let run = run.expect_code(1);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "stderr lacks {n:?}:\n{}", run.stderr);
    }
    run
}

/// A copy of an existing sequence message under a new id: the same key, so a duplicate.
pub(crate) fn duplicate_of(m: &Message) -> Message {
    Message { id: uuid::Uuid::new_v4().to_string(), ..m.clone() }
}

#[test]
fn refuses_while_duplicates_remain_and_changes_nothing() {
    let db = TestDb::new("mig_refuse");
    let rows = db.load_messages(&Spec::new(1_500, 21));
    let exp = Expected::of(&rows);
    let groups = exp.duplicate_groups().len();
    assert!(groups > 5);
    let before = db.checksum("broadcast_messages");
    let groups_line = format!("{groups} duplicate group(s) ({} surplus rows)", exp.surplus());

    // --dry-run runs the full duplicate check and records nothing.
    let j =
        expect_refusal(mig(&db).args(["--dry-run", "--format", "json"]).run(), &[&groups_line, "seqfix dedupe"]).json();
    assert_eq!(j["duplicate_groups"], groups as u64);
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    assert_eq!(versions(&j["pending"]), [1]);
    assert!(!history_exists(&db), "a dry run records nothing");

    // --check-duplicates-first refuses before any change: not even a history row.
    expect_refusal(
        mig(&db).args(["--check-duplicates-first"]).run(),
        &[&groups_line, "run `seqfix dedupe` first", "nothing was changed"],
    );
    assert!(!history_exists(&db));

    // By default the build is the check: it stops at the first duplicate, the server rolls it
    // back, and seqfix counts what remains. The history keeps one clearly failed row.
    let j = expect_refusal(
        mig(&db).args(["--format", "json"]).run(),
        &[&groups_line, "rolled the build back", "nothing was changed or lost", "seqfix dedupe"],
    )
    .json();
    assert_eq!(versions(&j["applied"]), Vec::<u64>::new());
    assert_eq!(versions(&j["pending"]), [1]);
    assert_eq!(j["duplicate_groups"], groups as u64);
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!has_index(&db, "unique_sequence_message"));
    let h = history(&db);
    assert_eq!(h.len(), 1);
    let (version, success, finished, _, _, error) = &h[0];
    assert_eq!((*version, *success, *finished), (1, false, true), "a finished, failed row");
    assert!(error.as_deref().unwrap_or("").contains("Duplicate entry"), "{error:?}");
    let status = mig(&db).args(["--status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(status["migrations"][0]["state"], "failed");
    assert_eq!(versions(&status["pending"]), [1]);

    // After the duplicates are gone, the failed migration runs again and succeeds.
    let mut c = db.conn();
    for v in exp.victims() {
        c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (v,)).unwrap();
    }
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), [1]);
    assert!(j["notes"].to_string().contains("failed at"), "{}", j["notes"]);
    assert!(has_index(&db, "unique_sequence_message"));
}

#[test]
fn applies_after_dedupe_then_is_a_no_op_then_down_and_up_again() {
    let db = TestDb::new("mig_apply");
    let rows = clean_table(&db, 1_500, 22);
    let before = db.checksum("broadcast_messages");

    let dry = mig(&db).args(["--dry-run"]).run().expect_code(0);
    assert!(dry.stdout.contains("ALTER TABLE `broadcast_messages`"), "{}", dry.stdout);
    assert!(dry.stdout.contains("ALGORITHM=INPLACE, LOCK=NONE"), "{}", dry.stdout);
    assert!(dry.stdout.contains("SET SESSION lock_wait_timeout = 5"), "{}", dry.stdout);
    assert!(!has_index(&db, "unique_sequence_message") && !history_exists(&db));

    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), [1]);
    assert_eq!(versions(&j["already_applied"]), Vec::<u64>::new());
    assert_eq!(versions(&j["pending"]), Vec::<u64>::new());
    assert_eq!(j["attempts"], 1);
    let ix = indexes(&db);
    let built = ix.iter().find(|(n, _, _)| n == "unique_sequence_message").expect("index built");
    assert!(!built.1, "unique");
    assert_eq!(built.2, KEY);
    assert_eq!(db.checksum("broadcast_messages"), before, "rows untouched");
    let h = history(&db);
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].0, h[0].1, h[0].2), (1, true, true));
    assert_eq!(h[0].3, expected_checksum());
    assert_eq!(h[0].4, current_user(&db));
    let ledger: Vec<(String, String)> =
        db.conn().query("SELECT command, status FROM seqfix_runs ORDER BY started_at").unwrap();
    assert_eq!(ledger, [("migrate".to_string(), "succeeded".to_string())]);

    // The constraint holds: the application's second INSERT of a message now fails.
    let victim = duplicate_of(rows.iter().find(|m| m.sequence_stepid.is_some()).unwrap());
    let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
    let err = seqfix_fixture::messages::insert(&mut db.conn(), &table, [victim]).unwrap_err();
    assert!(format!("{err:#}").contains("1062"), "{err:#}");

    // A second run is a no-op that exits 0.
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), Vec::<u64>::new());
    assert_eq!(versions(&j["already_applied"]), [1]);
    assert_eq!(versions(&j["pending"]), Vec::<u64>::new());
    assert_eq!(history(&db), h, "history untouched");
    let s = mig(&db).args(["--status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((versions(&s["already_applied"]), versions(&s["pending"])), (vec![1], vec![]));
    let table_out = mig(&db).args(["--status"]).run().expect_code(0);
    assert!(table_out.stdout.contains("unique_sequence_message") && table_out.stdout.contains("applied"));

    // --down asks first; without a terminal and without --yes it refuses and changes nothing.
    mig(&db).args(["--down"]).run().expect_error("pass --yes");
    assert!(has_index(&db, "unique_sequence_message"));
    let d = mig(&db).args(["--down", "--dry-run", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&d["reverted"]), [1]);
    assert!(d["sql"].to_string().contains("DROP INDEX unique_sequence_message"));
    assert!(has_index(&db, "unique_sequence_message"));
    let d = mig(&db).args(["--down", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&d["reverted"]), [1]);
    assert_eq!(versions(&d["pending"]), [1]);
    assert!(!has_index(&db, "unique_sequence_message"));
    assert!(history(&db).is_empty());
    // Nothing left to revert: exit 0, nothing done.
    let d = mig(&db).args(["--down", "--yes", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&d["reverted"]), Vec::<u64>::new());
    // And up again.
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), [1]);
    assert!(has_index(&db, "unique_sequence_message"));
    assert_eq!(db.checksum("broadcast_messages"), before);
}

#[test]
fn an_index_made_by_hand_is_recognised_and_recorded() {
    let db = TestDb::new("mig_by_hand");
    clean_table(&db, 800, 23);
    let mut c = db.conn();
    // Same constraint, other name and column order.
    c.query_drop(
        "ALTER TABLE broadcast_messages ADD UNIQUE INDEX by_hand (device_id, sequence_stepid, recipient_phone)",
    )
    .unwrap();
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), Vec::<u64>::new());
    assert_eq!(versions(&j["recorded"]), [1]);
    assert_eq!(versions(&j["already_applied"]), [1]);
    assert_eq!(j["unique_index"], "by_hand");
    assert!(!has_index(&db, "unique_sequence_message"), "no second index is built");
    let h = history(&db);
    assert_eq!((h[0].0, h[0].1, h[0].2), (1, true, true));
    // seqfix does not drop an index it did not create.
    let out = mig(&db).args(["--down", "--yes"]).run().expect_error("created outside seqfix");
    assert!(out.stderr.contains("by_hand"), "{}", out.stderr);
    assert!(has_index(&db, "by_hand"));

    // The migration's own index, created by hand under its name, counts the same.
    c.query_drop("ALTER TABLE broadcast_messages DROP INDEX by_hand").unwrap();
    c.query_drop("DELETE FROM seqfix_schema_history").unwrap();
    c.query_drop(
        "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)",
    )
    .unwrap();
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!((versions(&j["recorded"]), versions(&j["applied"])), (vec![1], vec![]));
}

#[test]
fn an_index_of_that_name_with_another_definition_is_an_error() {
    let db = TestDb::new("mig_conflict");
    clean_table(&db, 500, 24);
    let mut c = db.conn();
    c.query_drop("ALTER TABLE broadcast_messages ADD INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)")
        .unwrap();
    let before = db.checksum("broadcast_messages");
    let out = mig(&db).run().expect_error("already has an index named unique_sequence_message");
    assert!(out.stderr.contains("(sequence_stepid, recipient_phone, device_id)"), "{}", out.stderr);
    mig(&db).args(["--dry-run"]).run().expect_error("already has an index named unique_sequence_message");
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!history_exists(&db));
    let ix = indexes(&db);
    assert!(ix.iter().any(|(n, non_unique, _)| n == "unique_sequence_message" && *non_unique), "left as it was");
}

#[test]
fn a_tampered_checksum_is_an_error_naming_the_migration() {
    let db = TestDb::new("mig_tamper");
    clean_table(&db, 500, 25);
    mig(&db).run().expect_code(0);
    db.conn().query_drop("UPDATE seqfix_schema_history SET checksum = '0123456789abcdef'").unwrap();
    for args in [&["migrate"][..], &["migrate", "--status"], &["migrate", "--down", "--yes"], &["migrate", "--dry-run"]]
    {
        let out = db.seqfix().args(args).run().expect_error("migration 1 (unique_sequence_message)");
        assert!(out.stderr.contains("0123456789abcdef") && out.stderr.contains(&expected_checksum()), "{}", out.stderr);
    }
    assert!(has_index(&db, "unique_sequence_message"), "--down did nothing");
}

#[test]
fn an_unfinished_run_is_reported_and_recovered_from_the_schema() {
    // A process that dies during the DDL leaves the history row started and unfinished; the
    // DDL itself may or may not have completed. Both cases, set up by hand.
    let db = TestDb::new("mig_unfinished");
    clean_table(&db, 600, 26);
    let mut c = db.conn();
    let unfinished = |c: &mut Conn| {
        c.query_drop(seqfix::sql::HISTORY_CREATE).unwrap();
        c.exec_drop(
            "REPLACE INTO seqfix_schema_history (table_name, version, name, checksum, started_at, success, \
             installed_by, host, seqfix_version) VALUES ('broadcast_messages', 1, 'unique_sequence_message', ?, \
             '2026-01-02 03:04:05', 0, 'someone@%', 'crashed-host', '0.1.0')",
            (expected_checksum(),),
        )
        .unwrap();
    };
    unfinished(&mut c);
    let s = mig(&db).args(["--status", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(s["migrations"][0]["state"], "unfinished");
    assert_eq!(versions(&s["pending"]), [1]);
    // The DDL did not complete: the migration runs again.
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), [1]);
    let notes = j["notes"].to_string();
    assert!(notes.contains("2026-01-02 03:04:05") && notes.contains("never finished"), "{notes}");
    assert!(notes.contains("crashed-host"), "{notes}");
    assert!(has_index(&db, "unique_sequence_message"));
    // The DDL completed before the crash: recorded as applied without building.
    unfinished(&mut c);
    let j = mig(&db).args(["--format", "json"]).run().expect_code(0).json();
    assert_eq!((versions(&j["recorded"]), versions(&j["applied"])), (vec![1], vec![]));
    assert!(j["notes"].to_string().contains("exists with the right definition"), "{}", j["notes"]);
    let h = history(&db);
    assert_eq!((h[0].1, h[0].2), (true, true));
}

#[test]
fn works_without_the_process_privilege() {
    let db = TestDb::new("mig_noproc");
    clean_table(&db, 400, 30);
    let url = db.user_with("seqfix_mig", "mig-pw", "ALL PRIVILEGES");
    let j = Seqfix::new().args(["--database-url", &url, "migrate", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(versions(&j["applied"]), [1]);
    let checks = j["preflight"].as_array().unwrap();
    let trx = checks.iter().find(|c| c["name"] == "long transactions").unwrap();
    assert_eq!(trx["status"], "warn");
    assert!(trx["detail"].as_str().unwrap().contains("PROCESS privilege"));
}

// ---- bad input: one clear line on stderr, exit 2, nothing changed ----

#[test]
fn bad_tables_flags_and_key_lengths() {
    let db = TestDb::new("mig_bad");
    db.create_schema();
    let before = db.checksum("broadcast_messages");
    db.seqfix().args(["--table", "nope", "migrate"]).run().expect_error("does not exist");
    db.seqfix().args(["--table", "a`b", "migrate"]).run().expect_error("invalid table name");
    let mut c = db.conn();
    c.query_drop("CREATE TABLE no_step LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE no_step DROP COLUMN sequence_stepid").unwrap();
    db.seqfix().args(["--table", "no_step", "migrate"]).run().expect_error("has no column sequence_stepid");
    c.query_drop("CREATE TABLE myisam LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE myisam ENGINE=MyISAM").unwrap();
    db.seqfix().args(["--table", "myisam", "migrate"]).run().expect_error("MyISAM engine");
    // A key over the per-column limit of the COMPACT row format: 255 × 4 bytes > 767.
    c.query_drop("CREATE TABLE compact_wide LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE compact_wide ROW_FORMAT=COMPACT, MODIFY recipient_phone VARCHAR(255) NOT NULL").unwrap();
    let out =
        db.seqfix().args(["--table", "compact_wide", "migrate"]).run().expect_error("recipient_phone takes 1020 bytes");
    assert!(out.stderr.contains("767"), "{}", out.stderr);
    for (args, needle) in [
        (&["migrate", "--retries", "1000"][..], "--retries"),
        (&["migrate", "--status", "--down"], "--status"),
        (&["migrate", "--lock-wait-timeout", "soon"], "--lock-wait-timeout"),
        (&["migrate", "--max-trx-age", "ten"], "--max-trx-age"),
        (&["migrate", "--status", "--galera-toi"], "--galera-toi"),
    ] {
        let out = db.seqfix().args(args).run().expect_code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    assert_eq!(db.checksum("broadcast_messages"), before);
    assert!(!history_exists(&db));
    let tables: Vec<String> = c.query("SHOW TABLES LIKE 'seqfix%'").unwrap();
    assert!(tables.is_empty(), "no bookkeeping tables after refused runs: {tables:?}");
}
