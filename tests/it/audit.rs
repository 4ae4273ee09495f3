//! `seqfix audit` against generated data whose answer the test computes itself.
use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use seqfix_fixture::messages::Spec;

use crate::common::{Expected, Seqfix, TestDb};

fn digits(p: &str) -> String {
    p.chars().filter(|c| c.is_ascii_digit()).collect()
}

#[test]
fn counts_match_an_independent_computation() {
    let db = TestDb::new("audit_counts");
    let rows = db.load_messages(&Spec::new(6_000, 11));
    let exp = Expected::of(&rows);
    let dups = exp.duplicate_groups();
    assert!(dups.len() > 50, "the generator should make duplicates");

    let out = db.seqfix().args(["audit", "--format", "json", "--top", "3"]).run().expect_code(0);
    let j = out.json();
    let seq_rows = rows.iter().filter(|m| m.sequence_stepid.is_some()).count() as u64;
    assert_eq!(j["sequence_messages"], seq_rows);
    assert_eq!(j["duplicate_groups"], dups.len() as u64);
    assert_eq!(j["surplus_rows"], exp.surplus() as u64);
    assert_eq!(j["unique_index"], false);
    assert_eq!(j["table"], "broadcast_messages");

    // Surplus rows by status: the victims' statuses.
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for g in &dups {
        for v in &g[1..] {
            *by_status.entry(v.status.clone()).or_default() += 1;
        }
    }
    let got: BTreeMap<String, u64> = j["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kc| (kc["key"].as_str().unwrap().to_string(), kc["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, by_status);
    let by_seq_total: u64 = j["by_sequence"].as_array().unwrap().iter().map(|kc| kc["rows"].as_u64().unwrap()).sum();
    assert_eq!(by_seq_total, exp.surplus() as u64);
    let by_day_total: u64 = j["by_day"].as_array().unwrap().iter().map(|kc| kc["rows"].as_u64().unwrap()).sum();
    assert_eq!(by_day_total, exp.surplus() as u64);

    // Warnings.
    // A failed survivor beside a sent copy: only the original rule keeps one (oldest first).
    let oldest = Expected::oldest(&rows);
    let failed_sent = oldest
        .duplicate_groups()
        .iter()
        .filter(|g| g[0].status == "failed" && g[1..].iter().any(|m| m.status == "sent"))
        .count();
    let null_rows: usize = dups.iter().map(|g| g.iter().filter(|m| m.created_at.is_none()).count()).sum();
    let equal = dups
        .iter()
        .filter(|g| {
            let mut t: Vec<i64> = g.iter().filter_map(|m| m.created_at).collect();
            t.sort();
            t.windows(2).any(|w| w[0] == w[1])
        })
        .count();
    let w = &j["warnings"];
    assert_eq!(w["failed_survivor_groups"], 0, "sent-first keeps the sent copy");
    assert_eq!(j["survivor"]["resent_by_oldest_groups"], oldest.resent_by_oldest() as u64);
    let o = db.seqfix().args(["audit", "--keep", "oldest", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(o["warnings"]["failed_survivor_groups"], failed_sent as u64);
    assert!(failed_sent > 0 && null_rows > 0 && equal > 0, "the generator covers every warning");
    assert_eq!(w["null_created_rows"], null_rows as u64);
    assert_eq!(w["equal_created_groups"], equal as u64);

    // Top groups: the largest first, each listing its copies with the survivor first.
    let top = j["top_groups"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let max = dups.iter().map(|g| g.len()).max().unwrap();
    assert_eq!(top[0]["copies"].as_array().unwrap().len(), max);
    for t in top {
        let key = (
            t["sequence_stepid"].as_str().unwrap().to_string(),
            t["recipient_phone"].as_str().unwrap().to_string(),
            t["device_id"].as_str().unwrap().to_string(),
        );
        let g = &exp.groups[&key];
        let ids: Vec<&str> = t["copies"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        let want: Vec<&str> = g.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, want);
    }

    // Near-duplicates: same step and device, same digits, different phone strings.
    let mut near: BTreeMap<(String, String, String), std::collections::BTreeSet<String>> = BTreeMap::new();
    for m in rows.iter().filter(|m| m.sequence_stepid.is_some()) {
        near.entry((m.sequence_stepid.clone().unwrap(), m.device_id.clone(), digits(&m.recipient_phone)))
            .or_default()
            .insert(m.recipient_phone.clone());
    }
    let near_groups = near.values().filter(|phones| phones.len() > 1).count();
    assert!(near_groups > 0, "the generator makes near-duplicates");
    assert_eq!(j["near_duplicates"]["groups"], near_groups as u64);
}

#[test]
fn original_fix_leftovers_match_running_the_original_sql() {
    // The audit predicts what the original DELETE ... JOIN would leave; run it and compare.
    let db = TestDb::new("audit_original_fix");
    db.load_messages(&Spec::new(1_500, 5));
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    let predicted = j["warnings"]["left_by_original_fix_rows"].as_u64().unwrap();
    assert!(predicted > 0);
    let mut c = db.conn();
    c.query_drop(
        "DELETE bm1 FROM broadcast_messages bm1 INNER JOIN broadcast_messages bm2 \
         WHERE bm1.sequence_stepid = bm2.sequence_stepid AND bm1.recipient_phone = bm2.recipient_phone \
         AND bm1.device_id = bm2.device_id AND bm1.created_at > bm2.created_at",
    )
    .unwrap();
    let after = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(after["surplus_rows"].as_u64().unwrap(), predicted);
}

#[test]
fn table_format_and_fail_on_duplicates() {
    let db = TestDb::new("audit_table");
    let rows = db.load_messages(&Spec::new(800, 3));
    let exp = Expected::of(&rows);
    let out = db.seqfix().args(["audit", "--no-progress"]).run().expect_code(0);
    assert!(out.stdout.contains("duplicate groups"), "{}", out.stdout);
    assert!(out.stdout.contains(&exp.surplus().to_string()));
    assert!(out.stderr.is_empty(), "nothing on stderr without a terminal: {}", out.stderr);
    // flags after the subcommand and before it are both accepted
    db.seqfix().args(["--format", "json", "audit", "--fail-on-duplicates"]).run().expect_code(1);
}

#[test]
fn functional_indexes_do_not_break_the_schema_check() {
    let db = TestDb::new("audit_functional_ix");
    let rows = db.load_messages(&Spec::new(600, 3));
    let exp = Expected::of(&rows);
    let mut c = db.conn();
    if crate::common::Flavor::of(&mut c) == crate::common::Flavor::MariaDb {
        // MariaDB has no functional key parts (it indexes generated columns instead, which
        // information_schema lists by name): nothing to check there.
        return;
    }
    // information_schema.STATISTICS lists these key parts with a NULL COLUMN_NAME.
    c.query_drop("ALTER TABLE broadcast_messages ADD INDEX fx_phone ((LOWER(recipient_phone)))").unwrap();
    c.query_drop("ALTER TABLE broadcast_messages ADD UNIQUE INDEX fx_id ((CONCAT('m-', id)), device_id)").unwrap();
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["surplus_rows"].as_u64().unwrap(), exp.surplus() as u64);
    assert_eq!(j["unique_index"], false);
    db.seqfix().args(["dedupe", "--yes"]).run().expect_code(0);
    db.seqfix().args(["migrate"]).run().expect_code(0);
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((j["surplus_rows"].as_u64().unwrap(), j["unique_index"].as_bool()), (0, Some(true)));
}

#[test]
fn clean_table_with_unique_index_is_read_by_primary_key_in_chunks() {
    let db = TestDb::new("audit_index");
    let rows = db.load_messages(&Spec::new(1_000, 4));
    let exp = Expected::of(&rows);
    let mut c = db.conn();
    let victims = exp.victims();
    for v in &victims {
        c.exec_drop("DELETE FROM broadcast_messages WHERE id = ?", (v,)).unwrap();
    }
    c.query_drop("ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)").unwrap();
    let j = db.seqfix().args(["audit", "--format", "json", "--fail-on-duplicates"]).run().expect_code(0).json();
    assert_eq!(j["unique_index"], true);
    assert_eq!(j["duplicate_groups"], 0);
    let seq_rows = rows.iter().filter(|m| m.sequence_stepid.is_some()).count() - victims.len();
    assert_eq!(j["sequence_messages"], seq_rows as u64);
    // The walk's chunks (the first, and one after an id) each read a range of the primary
    // key once and sort nothing. (The candidates' weights are computed from values and read
    // no table: collations.rs checks them against the columns' own.)
    // The traditional tabular plan: MySQL 8.4+ defaults to the TREE format (and MariaDB
    // knows no FORMAT=TRADITIONAL).
    let explain = match crate::common::Flavor::of(&mut c) {
        crate::common::Flavor::MySql => "EXPLAIN FORMAT=TRADITIONAL",
        crate::common::Flavor::MariaDb => "EXPLAIN",
    };
    use seqfix::scan::weights::{Collations, Near, Padding};
    let pad = Padding { space_weight: vec![], pad_space: false };
    let collations = Collations { step: pad.clone(), device: pad.clone(), phone: pad, near: Near::default() };
    let table = seqfix::ident::Ident::new("t", "broadcast_messages").unwrap();
    let [first, later] =
        seqfix::scan::walk::statements(&table, true, &seqfix::sql::Fragment::sql("created_at"), &collations);
    for (q, params) in [
        (first, seqfix::scan::walk::params(None, 1000)),
        (later, seqfix::scan::walk::params(Some(&rows[rows.len() / 2].id), 1000)),
    ] {
        let plan: Vec<mysql::Row> = c.exec(format!("{explain} {q}"), params).unwrap();
        let reads: Vec<(Option<String>, String)> = plan
            .iter()
            .map(|r| (r.get("key").unwrap(), r.get::<Option<String>, _>("Extra").unwrap().unwrap_or_default()))
            .collect();
        assert_eq!(plan.len(), 1, "one read of one table: {reads:?}\n{q}");
        assert_eq!(plan[0].get::<Option<String>, _>("table").unwrap().as_deref(), Some("broadcast_messages"));
        assert_eq!(reads[0].0.as_deref(), Some("PRIMARY"), "{reads:?}\n{q}");
        assert!(!reads[0].1.contains("filesort") && !reads[0].1.contains("temporary"), "{reads:?}\n{q}");
    }
}

/// The scan reads the table in several chunks and every row once; and forcing nearly every
/// row onto one of two fingerprints (the test knob SEQFIX_SCAN_FINGERPRINT_BITS=1) makes
/// every sequence message a candidate but changes nothing in the answer: a collision never
/// merges two groups, and the counts are the generator's.
#[test]
fn fingerprint_collisions_never_merge_groups() {
    let db = TestDb::new("audit_collisions");
    let rows = db.load_messages(&Spec::new(6_000, 12));
    let exp = Expected::of(&rows);
    let audit = |bits: Option<&str>| {
        let mut cmd = db.seqfix();
        if let Some(b) = bits {
            cmd = cmd.env("SEQFIX_SCAN_FINGERPRINT_BITS", b);
        }
        cmd.args(["audit", "--format", "json", "--top", "1000"]).run().expect_code(0).json()
    };
    let (mut plain, mut collided) = (audit(None), audit(Some("1")));
    let seq_rows = rows.iter().filter(|m| m.sequence_stepid.is_some()).count() as u64;
    for j in [&plain, &collided] {
        assert_eq!(j["duplicate_groups"], exp.duplicate_groups().len() as u64);
        assert_eq!(j["surplus_rows"], exp.surplus() as u64);
        assert_eq!(j["sequence_messages"], seq_rows);
        assert_eq!(j["scan"]["rows_read"], rows.len() as u64, "every row read once");
        assert!(j["scan"]["chunks"].as_u64().unwrap() > 1, "{}", j["scan"]);
    }
    let fingerprinted =
        rows.iter().filter(|m| m.sequence_stepid.as_deref().is_some_and(|s| !s.is_empty())).count() as u64;
    assert_eq!(collided["scan"]["candidate_rows"], fingerprinted, "with one bit every sequence message collides");
    let in_groups: usize = exp.duplicate_groups().iter().map(|g| g.len()).sum();
    assert!(plain["scan"]["candidate_rows"].as_u64().unwrap() < fingerprinted / 2, "{}", plain["scan"]);
    assert!(plain["scan"]["candidate_rows"].as_u64().unwrap() >= in_groups as u64, "{}", plain["scan"]);
    // Beyond how the scan went, the two reports are the same.
    plain.as_object_mut().unwrap().remove("scan");
    collided.as_object_mut().unwrap().remove("scan");
    assert_eq!(plain, collided);
}

#[test]
fn empty_table_reports_zero() {
    let db = TestDb::new("audit_empty");
    db.create_schema();
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["sequence_messages"], 0);
    assert_eq!(j["surplus_rows"], 0);
}

#[test]
fn works_with_select_only() {
    let db = TestDb::new("audit_select_only");
    let rows = db.load_messages(&Spec::new(500, 8));
    let url = db.user_with("seqfix_ro", "ro-pw", "SELECT");
    let j = Seqfix::new().args(["--database-url", &url, "audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["surplus_rows"], Expected::of(&rows).surplus() as u64);
}

// ---- bad input: one clear line on stderr, exit 2, nothing changed ----

#[test]
fn bad_urls_and_credentials() {
    let db = TestDb::new("audit_bad_conn");
    db.create_schema();
    Seqfix::new().args(["audit"]).run().expect_error("no database given");
    Seqfix::new().args(["--database-url", "mysql//nope", "audit"]).run().expect_error("malformed database URL");
    Seqfix::new()
        .args(["--database-url", "postgres://u:pw@h/db", "audit"])
        .run()
        .expect_error("unsupported database URL scheme");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    Seqfix::new()
        .args(["--database-url", &format!("mysql://u:pw@127.0.0.1:{closed}/x"), "--connect-timeout", "3s", "audit"])
        .run()
        .expect_error("cannot reach the server");
    let wrong = db.url_as(&crate::common::admin_user(), "Wr0ng-S3cret-pw");
    let out = Seqfix::new().args(["--database-url", &wrong, "audit"]).run().expect_error("access denied");
    assert!(!out.stderr.contains("Wr0ng-S3cret-pw") && !out.stdout.contains("Wr0ng-S3cret-pw"));
    // User names the server does not know. MySQL answers some of them by switching to the
    // sha256_password plugin (seen for "x" on 9.7), so that accounts cannot be probed.
    for name in ["x", "nobody", "seqfix_no_such_user", "a", "bb", "ccc", "dddd", "e1", "f22", "g333"] {
        let url = db.url_as(name, "Wr0ng-S3cret-pw");
        let out = Seqfix::new().args(["--database-url", &url, "audit"]).run().expect_error("access denied");
        assert!(!out.stderr.contains("Wr0ng-S3cret-pw"), "{}", out.stderr);
    }
    // An account made with sha256_password (MySQL only: MariaDB has no such plugin).
    if crate::common::Flavor::of(&mut db.conn()) == crate::common::Flavor::MySql {
        let mut c = db.conn();
        c.query_drop("DROP USER IF EXISTS 'seqfix_sha256'@'%'").unwrap();
        c.query_drop("CREATE USER 'seqfix_sha256'@'%' IDENTIFIED WITH sha256_password BY 'Sha-256-pw'").unwrap();
        c.query_drop(format!("GRANT SELECT ON `{}`.* TO 'seqfix_sha256'@'%'", db.name)).unwrap();
        let url = db.url_as("seqfix_sha256", "Sha-256-pw");
        let out = Seqfix::new().args(["--database-url", &url, "audit"]).run().expect_error("does not support");
        assert!(
            out.stderr.contains("sha256_password") && out.stderr.contains("caching_sha2_password"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("Sha-256-pw"), "{}", out.stderr);
        c.query_drop("DROP USER 'seqfix_sha256'@'%'").unwrap();
    }
    let unknown = db.url.replace(&db.name, "no_such_db_seqfix");
    Seqfix::new().args(["--database-url", &unknown, "audit"]).run().expect_error("unknown database");
    // the environment variable works too, and its password is not echoed by --help
    let help = Seqfix::new().env("DATABASE_URL", &wrong).args(["--help"]).run().expect_code(0);
    assert!(!help.stdout.contains("Wr0ng-S3cret-pw"));
}

#[test]
fn bad_tables_and_columns() {
    let db = TestDb::new("audit_bad_schema");
    db.create_schema();
    let before = db.checksum("broadcast_messages");
    db.seqfix().args(["--table", "nope", "audit"]).run().expect_error("table");
    for bad in ["a`b", "a'b", "x;DROP TABLE broadcast_messages", "a b"] {
        db.seqfix().args(["--table", bad, "audit"]).run().expect_error("invalid table name");
    }
    let mut c = db.conn();
    c.query_drop("CREATE TABLE no_step LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE no_step DROP COLUMN sequence_stepid").unwrap();
    db.seqfix().args(["--table", "no_step", "audit"]).run().expect_error("has no column sequence_stepid");
    c.query_drop("CREATE TABLE bad_type LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE bad_type MODIFY created_at VARCHAR(30)").unwrap();
    db.seqfix().args(["--table", "bad_type", "audit"]).run().expect_error("created_at of type varchar(30)");
    c.query_drop("CREATE TABLE myisam LIKE broadcast_messages").unwrap();
    c.query_drop("ALTER TABLE myisam ENGINE=MyISAM").unwrap();
    db.seqfix().args(["--table", "myisam", "audit"]).run().expect_error("MyISAM engine");
    assert_eq!(db.checksum("broadcast_messages"), before);
}

#[test]
fn bad_flags() {
    let db = TestDb::new("audit_bad_flags");
    db.create_schema();
    let out = db.seqfix().args(["audit", "--no-such-flag"]).run().expect_code(2);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
    let out = db.seqfix().args(["audit", "--top", "0"]).run().expect_code(2);
    assert!(out.stderr.contains("--top"), "{}", out.stderr);
    let out = db.seqfix().args(["--connect-timeout", "soon", "audit"]).run().expect_code(2);
    assert!(out.stderr.contains("--connect-timeout"), "{}", out.stderr);
}

#[test]
fn copies_equal_under_the_collation_are_one_group() {
    // The unique index compares with utf8mb4_unicode_ci: '60123' = '60123 ' (PAD SPACE) and
    // letter case does not matter. Hand-built: one message, a copy whose phone has a trailing
    // space, a copy whose device id is upper-case, and a real near-duplicate '+60 123'.
    let db = TestDb::new("audit_collation");
    db.create_schema();
    let base = seqfix_fixture::messages::generate(&Spec::new(50, 21)).find(|m| m.sequence_stepid.is_some()).unwrap();
    let mut rows = Vec::new();
    for (i, (phone, upper)) in
        [("60123", false), ("60123 ", false), ("60123", true), ("+60 123", false)].iter().enumerate()
    {
        let mut m = base.clone();
        m.id = format!("00000000-0000-0000-0000-00000000000{i}");
        m.recipient_phone = phone.to_string();
        m.created_at = Some(1_750_000_000 + i as i64);
        if *upper {
            m.device_id = m.device_id.to_uppercase();
        }
        rows.push(m);
    }
    // A second message whose only copy differs in the letter case of its step id: the
    // server's candidate filter hashes weights, not bytes, so it must send both.
    for (i, upper) in [(4, false), (5, true)] {
        let mut m = base.clone();
        m.id = format!("00000000-0000-0000-0000-00000000000{i}");
        m.recipient_phone = "60777".into();
        m.created_at = Some(1_750_000_000 + i as i64);
        if upper {
            m.sequence_stepid = m.sequence_stepid.map(|s| s.to_uppercase());
        }
        rows.push(m);
    }
    db.insert(&rows);
    let j = db.seqfix().args(["audit", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["duplicate_groups"], 2);
    assert_eq!(j["surplus_rows"], 3);
    assert_eq!(j["near_duplicates"]["groups"], 1);
    let kept: BTreeSet<&str> =
        j["top_groups"].as_array().unwrap().iter().map(|g| g["copies"][0]["id"].as_str().unwrap()).collect();
    assert_eq!(kept, BTreeSet::from(["00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000004"]));
    db.seqfix().args(["dedupe", "--yes", "--format", "json"]).run().expect_code(0);
    assert_eq!(
        db.ids("broadcast_messages"),
        [
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000003",
            "00000000-0000-0000-0000-000000000004"
        ]
    );
    db.conn()
        .query_drop("ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id)")
        .unwrap();
}
