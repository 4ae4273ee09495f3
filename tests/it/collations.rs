//! The groups are exactly the unique index's equality, on every collation that matters and
//! on hostile data (fullwidth forms, no-break and other Unicode spaces, ignorable
//! characters, case, accents, trailing spaces, ß/ss). The expected answers come from the
//! server: its GROUP BY on the three columns, and a copy of the rows through INSERT IGNORE
//! into a table that has the unique index. After `dedupe`, `migrate` must build the index.
use mysql::prelude::Queryable;

use crate::common::TestDb;
use crate::migrate::mig;

/// Steps, phones and devices that collide in some collations and not in others.
const STEPS: &[&str] = &["s1", "S1", "s1 ", "ś1", "ß", "ss", "SS", "s\u{a0}1", "s1\u{3000}"];
const PHONES: &[&str] = &[
    "+60123",
    "\u{ff0b}60123",       // fullwidth plus
    "+60 123",             // space
    "+60\u{a0}123",        // no-break space
    "+60\u{202f}123",      // narrow no-break space
    "+60-123",             // hyphen
    "+60\u{ff0d}123",      // fullwidth hyphen
    "60123",               // no plus
    "60123 ",              // trailing space
    "\u{ff16}\u{ff10}123", // fullwidth digits
    "+601\u{200b}23",      // zero-width space
    "+60123\u{a0}",        // trailing no-break space
];
const DEVICES: &[&str] = &["d1", "D1", "d1 ", "dé", "de", "dÉ", "\u{ff44}1"];

/// One generated row: id, step, phone, device, created_at (Unix seconds).
type Row<'a> = (String, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<i64>);

/// A small deterministic generator (xorshift), so that every server gets the same rows.
struct Rng(u64);
impl Rng {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from[(self.0 % from.len() as u64) as usize]
    }
}

fn fits(charset: &str, s: &str) -> bool {
    charset != "latin1" || s.chars().all(|c| (c as u32) < 0x100)
}

/// The server's own count of surplus rows: rows of groups under GROUP BY on the three
/// columns (their collations), NULLs and empty steps left out, less one per group.
fn group_by_surplus(c: &mut mysql::Conn) -> u64 {
    c.query_first::<Option<u64>, _>(
        "SELECT CAST(COALESCE(SUM(n - 1), 0) AS UNSIGNED) FROM (SELECT COUNT(*) AS n FROM broadcast_messages \
         WHERE sequence_stepid IS NOT NULL AND sequence_stepid <> '' AND recipient_phone IS NOT NULL \
         AND device_id IS NOT NULL GROUP BY sequence_stepid, recipient_phone, device_id) AS g",
    )
    .unwrap()
    .flatten()
    .unwrap()
}

/// How many rows a copy into a table with the unique index keeps (INSERT IGNORE drops
/// every row the index rejects).
fn kept_by_index(c: &mut mysql::Conn) -> u64 {
    c.query_drop("DROP TABLE IF EXISTS truth").unwrap();
    c.query_drop("CREATE TABLE truth LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE truth ADD UNIQUE INDEX k (sequence_stepid, recipient_phone, device_id)").unwrap();
    c.query_drop("INSERT IGNORE INTO truth SELECT * FROM broadcast_messages").unwrap();
    let n: u64 = c.query_first("SELECT COUNT(*) FROM truth").unwrap().unwrap();
    c.query_drop("DROP TABLE truth").unwrap();
    n
}

/// Runs the invariant on `collation` of `charset`; `absent` says why a server may lack it.
fn invariant(charset: &str, collation: &str, absent: &str) {
    let db = TestDb::new(&format!("coll_{collation}"));
    let mut c = db.conn();
    let have: u64 = c
        .exec_first("SELECT COUNT(*) FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?", (collation,))
        .unwrap()
        .unwrap();
    if have == 0 {
        eprintln!("skipping {collation}: this server does not have it ({absent})");
        return;
    }
    db.create_schema();
    c.query_drop(format!(
        "ALTER TABLE broadcast_messages \
         MODIFY sequence_stepid varchar(36) CHARACTER SET {charset} COLLATE {collation} NULL, \
         MODIFY recipient_phone varchar(50) CHARACTER SET {charset} COLLATE {collation} NULL, \
         MODIFY device_id char(36) CHARACTER SET {charset} COLLATE {collation} NULL"
    ))
    .unwrap();
    let steps: Vec<&str> = STEPS.iter().copied().filter(|s| fits(charset, s)).collect();
    let phones: Vec<&str> = PHONES.iter().copied().filter(|s| fits(charset, s)).collect();
    let devices: Vec<&str> = DEVICES.iter().copied().filter(|s| fits(charset, s)).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rows: Vec<Row> = Vec::new();
    for i in 0..360 {
        let (s, p, d) = (rng.pick(&steps), rng.pick(&phones), rng.pick(&devices));
        // Every 12th row has a NULL in one key column: never a duplicate of anything.
        let (s, p, d) = match i % 36 {
            0 => (None, Some(p), Some(d)),
            12 => (Some(s), None, Some(d)),
            24 => (Some(s), Some(p), None),
            _ => (Some(s), Some(p), Some(d)),
        };
        let created = if i % 7 == 0 { None } else { Some(1_700_000_000 + (i % 5) as i64) };
        rows.push((format!("{i:08}-0000-0000-0000-000000000000"), s, p, d, created));
    }
    for (id, s, p, d, created) in &rows {
        c.exec_drop(
            "INSERT INTO broadcast_messages (id, user_id, device_id, recipient_phone, message_type, status, \
             sequence_stepid, created_at) VALUES (?, 'u', ?, ?, 'text', 'pending', ?, FROM_UNIXTIME(?))",
            (id, d, p, s, created),
        )
        .unwrap();
    }
    let total = rows.len() as u64;
    let truth = total - kept_by_index(&mut c);
    // On MariaDB the server's GROUP BY agrees with its unique index. MySQL's GROUP BY does
    // not always (seen on 9.7 with utf8mb4_unicode_ci and _520_ci: '60123' and '60123' with a
    // trailing no-break space, or 's1' and 's1' with a trailing ideographic space, are equal
    // to `=` and to the index but two groups to GROUP BY), so there the index alone is the
    // truth.
    let grouped = group_by_surplus(&mut c);
    match crate::common::Flavor::of(&mut c) {
        crate::common::Flavor::MariaDb => {
            assert_eq!(grouped, truth, "{collation}: GROUP BY and the unique index disagree")
        }
        crate::common::Flavor::MySql if grouped != truth => {
            eprintln!("{collation}: MySQL's GROUP BY finds {grouped} surplus rows, its unique index {truth}")
        }
        crate::common::Flavor::MySql => {}
    }
    assert!(truth > 20, "{collation}: the data should hold duplicates ({truth})");

    // The scan weighs the candidates' key values as the walk read them (scan::confirm): the
    // same weights as the columns' own, for every row.
    let cfg = seqfix::config::DbConfig::from_url(&db.url, std::time::Duration::from_secs(5)).unwrap();
    let mut sdb = seqfix::db::connect(&cfg).unwrap();
    let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
    let info = seqfix::schema::describe(&mut sdb, &table).unwrap().unwrap();
    let mut weigher = seqfix::scan::confirm::Weigher::new(seqfix::scan::confirm::ValueTypes::of(&info).unwrap());
    #[allow(clippy::type_complexity)]
    let keyed: Vec<(String, String, String, Vec<u8>, Vec<u8>, Vec<u8>)> = c
        .query(
            "SELECT sequence_stepid, device_id, recipient_phone, WEIGHT_STRING(sequence_stepid), \
             WEIGHT_STRING(device_id), WEIGHT_STRING(recipient_phone) FROM broadcast_messages \
             WHERE sequence_stepid IS NOT NULL AND device_id IS NOT NULL AND recipient_phone IS NOT NULL",
        )
        .unwrap();
    let mut stats = seqfix::scan::ScanStats::default();
    use seqfix::scan::confirm::Key;
    for (key, pick) in [
        (
            Key::Step,
            (|r: &(String, String, String, Vec<u8>, Vec<u8>, Vec<u8>)| (r.0.clone(), r.3.clone())) as fn(&_) -> _,
        ),
        (Key::Device, |r| (r.1.clone(), r.4.clone())),
        (Key::Phone, |r| (r.2.clone(), r.5.clone())),
    ] {
        let (values, want): (Vec<String>, Vec<Vec<u8>>) = keyed.iter().map(pick).unzip();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let got = weigher.weigh(&mut sdb, key, &values, &mut stats).unwrap();
        assert_eq!(got, want, "{collation}: {key:?} values weigh as the column does");
    }

    let audit = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(audit["surplus_rows"], truth, "{collation}: audit's surplus is not the unique index's");
    let near = audit["near_duplicates"]["groups"].as_u64().unwrap();
    assert!(near > 0, "{collation}: phones differing in punctuation are near-duplicates");

    let dedupe =
        db.seqfix().args(["dedupe", "--yes", "--batch-size", "50", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(dedupe["deleted_rows"], truth, "{collation}");
    assert_eq!(db.count("broadcast_messages"), total - truth);
    assert_eq!(kept_by_index(&mut c), total - truth, "{collation}: the index would still reject rows");
    // Rows with a NULL key column are all still there.
    let nulls: u64 = c
        .query_first(
            "SELECT COUNT(*) FROM broadcast_messages \
             WHERE sequence_stepid IS NULL OR recipient_phone IS NULL OR device_id IS NULL",
        )
        .unwrap()
        .unwrap();
    assert_eq!(nulls, rows.iter().filter(|r| r.1.is_none() || r.2.is_none() || r.3.is_none()).count() as u64);

    let after = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(after["surplus_rows"], 0, "{collation}");
    assert_eq!(after["near_duplicates"]["groups"], near, "{collation}: near-duplicates are reported, never deleted");
    mig(&db).run().expect_code(0);
    let index: u64 = c
        .query_first(
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'broadcast_messages' AND NON_UNIQUE = 0 AND COLUMN_NAME = 'recipient_phone'",
        )
        .unwrap()
        .unwrap();
    assert_eq!(index, 1, "{collation}: migrate built the unique index");
}

#[test]
fn unicode_ci() {
    invariant("utf8mb4", "utf8mb4_unicode_ci", "");
}

#[test]
fn unicode_520_ci() {
    invariant("utf8mb4", "utf8mb4_unicode_520_ci", "");
}

#[test]
fn general_ci() {
    invariant("utf8mb4", "utf8mb4_general_ci", "");
}

#[test]
fn bin() {
    invariant("utf8mb4", "utf8mb4_bin", "");
}

#[test]
fn unicode_nopad_ci() {
    invariant("utf8mb4", "utf8mb4_unicode_nopad_ci", "NO PAD variants of the old collations are MariaDB's");
}

#[test]
fn nopad_bin() {
    invariant("utf8mb4", "utf8mb4_nopad_bin", "NO PAD variants of the old collations are MariaDB's");
}

#[test]
fn uca1400_ai_ci() {
    invariant("utf8mb4", "utf8mb4_uca1400_ai_ci", "the UCA 14.0 collations are MariaDB's, from 10.10");
}

#[test]
fn mysql_0900_ai_ci() {
    invariant(
        "utf8mb4",
        "utf8mb4_0900_ai_ci",
        "the UCA 9.0.0 collations are MySQL's, from 8.0 (MariaDB 11.4 aliases them)",
    );
}

#[test]
fn mysql_0900_as_cs() {
    invariant("utf8mb4", "utf8mb4_0900_as_cs", "the UCA 9.0.0 collations are MySQL's, from 8.0");
}

#[test]
fn mysql_0900_bin() {
    invariant("utf8mb4", "utf8mb4_0900_bin", "the UCA 9.0.0 collations are MySQL's, from 8.0");
}

#[test]
fn latin1_swedish_ci() {
    invariant("latin1", "latin1_swedish_ci", "");
}

/// The issue's own example, hand-computed: a fullwidth plus, a fullwidth hyphen and a
/// no-break space make copies the unique index holds equal under utf8mb4_unicode_ci.
#[test]
fn fullwidth_and_no_break_forms_are_one_group_under_unicode_ci() {
    let db = TestDb::new("coll_issue_example");
    db.create_schema();
    let mut c = db.conn();
    let rows = [
        ("a", "+60123"),
        ("b", "\u{ff0b}60123"),
        ("c", "+60123"),
        ("d", "+60-123"),
        ("e", "+60\u{ff0d}123"),
        ("f", "+60 123"),
        ("g", "+60\u{a0}123"),
        ("h", "60123"),
    ];
    for (id, phone) in rows {
        c.exec_drop(
            "INSERT INTO broadcast_messages (id, user_id, device_id, recipient_phone, message_type, sequence_stepid, created_at) \
             VALUES (?, 'u', 'd1', ?, 'text', 's1', '2025-01-01 00:00:00')",
            (id, phone),
        )
        .unwrap();
    }
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    // Groups {a,b,c}, {d,e}, {f,g} and {h} alone: 2 + 1 + 1 surplus rows.
    assert_eq!(j["duplicate_groups"], 3);
    assert_eq!(j["surplus_rows"], 4);
    // All four groups share step, device and digits: one near-duplicate partition.
    assert_eq!(j["near_duplicates"]["groups"], 1);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    assert_eq!(db.ids("broadcast_messages"), ["a", "d", "f", "h"]);
    mig(&db).run().expect_code(0);
}
