//! `seqfix process` on generated contacts whose outcome the test computes itself, straight
//! from the rules of the contract, one contact at a time (not with seqfix's planner).
//!
//! The lease that keeps runs apart across a cluster is tested here on one server (taken or
//! expired mid-run, held by another run, taken over from a killed run) and in
//! `tests/it/cluster.rs` on a 3-node Galera cluster; its claim rule has unit tests in
//! `src/lease.rs`.
use std::collections::{BTreeMap, HashSet};
use std::process::Child;
use std::time::Duration;

use mysql::prelude::Queryable;
use seqfix_fixture::contacts::{self as fixture_contacts, ContactSpec, World};

use crate::common::{Run, TestDb};

const ADD_INDEX: &str = "ALTER TABLE broadcast_messages ADD UNIQUE INDEX unique_sequence_message \
     (sequence_stepid, recipient_phone, device_id)";

/// What the rules say happens to one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exp {
    NotDue,
    Completed,
    NoStep,
    NoLead,
    DeviceOffline,
    /// A new message on (step id, device id).
    Queued(String, String),
    /// The message existed; the contact advances without a new one.
    AlreadyQueued(String, String),
    /// The message existed as `failed`: it is put back to `pending`, the contact advances.
    Requeued(String, String),
}

pub(crate) fn load(db: &TestDb, contacts: usize, seed: u64, index: bool) -> World {
    db.create_schema();
    let world = fixture_contacts::generate(&ContactSpec::new(contacts, seed));
    fixture_contacts::insert(&mut db.conn(), &world).unwrap();
    if index {
        db.conn().query_drop(ADD_INDEX).unwrap();
    }
    world
}

/// The contract, read literally, contact by contact (in id order, so that of two contacts
/// sharing a message key the first queues it and the second finds it queued).
pub(crate) fn expected(w: &World) -> BTreeMap<String, Exp> {
    let mut keys: HashSet<(String, String, String)> = HashSet::new();
    // Keys whose only copy failed: the first contact to reach one re-queues it.
    let mut failed: HashSet<(String, String, String)> = HashSet::new();
    for m in &w.messages {
        let k = (m.sequence_stepid.clone().unwrap(), m.recipient_phone.clone(), m.device_id.clone());
        if m.status == "failed" {
            failed.insert(k.clone());
        }
        keys.insert(k);
    }
    let mut contacts: Vec<_> = w.contacts.iter().collect();
    contacts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = BTreeMap::new();
    for c in contacts {
        let seq = w.sequences.iter().find(|s| s.id == c.sequence_id).unwrap();
        let due = c.status == "active"
            && seq.is_active
            && seq.status == "active"
            && c.next_trigger_time.map(|t| t <= fixture_contacts::PAST + 86_400 * 365).unwrap_or(true);
        let next = c.current_step + 1;
        let e = if !due {
            Exp::NotDue
        } else if next > seq.total_days {
            Exp::Completed
        } else {
            let step = w.steps.iter().filter(|s| s.sequence_id == seq.id && s.day_number == next).min_by_key(|s| &s.id);
            let lead = w.leads.iter().filter(|l| l.phone == c.phone && l.user_id == seq.user_id).min_by_key(|l| l.id);
            match (step, lead) {
                (None, _) => Exp::NoStep,
                (Some(_), None) => Exp::NoLead,
                (Some(step), Some(lead)) => {
                    let device = w.devices.iter().find(|d| d.id == lead.device_id);
                    let ok = device
                        .map(|d| d.user_id == seq.user_id && (d.status == "connected" || d.status == "online"))
                        .unwrap_or(false);
                    let k = (step.id.clone(), c.phone.clone(), lead.device_id.clone());
                    if !ok {
                        Exp::DeviceOffline
                    } else if failed.remove(&k) {
                        Exp::Requeued(step.id.clone(), lead.device_id.clone())
                    } else if keys.insert(k) {
                        Exp::Queued(step.id.clone(), lead.device_id.clone())
                    } else {
                        Exp::AlreadyQueued(step.id.clone(), lead.device_id.clone())
                    }
                }
            }
        };
        out.insert(c.id.clone(), e);
    }
    out
}

pub(crate) fn tally(exp: &BTreeMap<String, Exp>) -> BTreeMap<&'static str, u64> {
    let mut t: BTreeMap<&'static str, u64> = BTreeMap::new();
    for name in ["queued", "already_queued", "requeued", "completed", "no_step", "no_lead", "device_offline"] {
        t.insert(name, 0);
    }
    for e in exp.values() {
        let name = match e {
            Exp::NotDue => continue,
            Exp::Completed => "completed",
            Exp::NoStep => "no_step",
            Exp::NoLead => "no_lead",
            Exp::DeviceOffline => "device_offline",
            Exp::Queued(..) => "queued",
            Exp::AlreadyQueued(..) => "already_queued",
            Exp::Requeued(..) => "requeued",
        };
        *t.get_mut(name).unwrap() += 1;
    }
    t
}

pub(crate) fn counts(j: &serde_json::Value) -> BTreeMap<&'static str, u64> {
    ["queued", "already_queued", "requeued", "completed", "no_step", "no_lead", "device_offline"]
        .into_iter()
        .map(|k| (k, j[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {j}"))))
        .collect()
}

fn server_now(db: &TestDb) -> i64 {
    db.conn().query_first("SELECT UNIX_TIMESTAMP(NOW())").unwrap().unwrap()
}

/// The database after a complete pass (or passes) that started at `before` and ended at
/// `after` (server clock): every contact as the rules say, every new message, every log row.
fn verify_state(db: &TestDb, w: &World, exp: &BTreeMap<String, Exp>, before: i64, after: i64) {
    let mut conn = db.conn();
    type ContactRow = (String, i32, String, Option<i64>, Option<i64>);
    let rows: Vec<ContactRow> = conn
        .query(
            "SELECT id, current_step, status, UNIX_TIMESTAMP(next_trigger_time), UNIX_TIMESTAMP(completed_at) \
             FROM sequence_contacts",
        )
        .unwrap();
    let generated: BTreeMap<&str, &fixture_contacts::Contact> = w.contacts.iter().map(|c| (c.id.as_str(), c)).collect();
    assert_eq!(rows.len(), w.contacts.len());
    for (id, step, status, next, completed_at) in rows {
        let c = generated[id.as_str()];
        match &exp[&id] {
            Exp::Queued(..) | Exp::AlreadyQueued(..) | Exp::Requeued(..) => {
                assert_eq!((step, status.as_str()), (c.current_step + 1, "active"), "contact {id} advances");
                let next = next.expect("next_trigger_time set");
                assert!(next >= before + 86_400 && next <= after + 86_400, "contact {id}: next trigger {next}");
                assert_eq!(completed_at, None);
            }
            Exp::Completed => {
                assert_eq!((step, status.as_str()), (c.current_step, "completed"), "contact {id} completes");
                let at = completed_at.expect("completed_at set");
                assert!(at >= before && at <= after, "contact {id}: completed_at {at}");
                assert_eq!(next, c.next_trigger_time);
            }
            _ => {
                assert_eq!((step, status.as_str(), next), (c.current_step, c.status.as_str(), c.next_trigger_time));
                assert_eq!(completed_at, None, "contact {id} untouched");
            }
        }
    }

    // Messages: the pre-existing ones unchanged in number, one new one per queued contact.
    type MsgRow = (String, String, String, String, String, String, Option<String>, String, Option<String>);
    let msgs: Vec<MsgRow> = conn
        .query(
            "SELECT id, sequence_stepid, recipient_phone, device_id, user_id, sequence_id, recipient_name, \
             message_type, content FROM broadcast_messages",
        )
        .unwrap();
    let old: HashSet<&str> = w.messages.iter().map(|m| m.id.as_str()).collect();
    let mut by_key: BTreeMap<(String, String, String), Vec<&MsgRow>> = BTreeMap::new();
    for m in &msgs {
        by_key.entry((m.1.clone(), m.2.clone(), m.3.clone())).or_default().push(m);
    }
    assert!(by_key.values().all(|v| v.len() == 1), "no duplicate message");
    let queued: Vec<(&String, &Exp)> = exp.iter().filter(|(_, e)| matches!(e, Exp::Queued(..))).collect();
    assert_eq!(msgs.len(), w.messages.len() + queued.len());
    let logs: BTreeMap<String, (String, String, i32, String, Option<String>)> = conn
        .query::<(String, String, String, i32, String, Option<String>), _>(
            "SELECT contact_id, sequence_id, step_id, day, status, message_id FROM sequence_logs",
        )
        .unwrap()
        .into_iter()
        .map(|(c, s, st, d, status, m)| (c, (s, st, d, status, m)))
        .collect();
    let requeued: Vec<(&String, &Exp)> = exp.iter().filter(|(_, e)| matches!(e, Exp::Requeued(..))).collect();
    assert_eq!(logs.len(), queued.len() + requeued.len(), "one log row per queued or re-queued message");
    for (id, e) in &requeued {
        let Exp::Requeued(step, device) = e else { unreachable!() };
        let c = generated[id.as_str()];
        let m = by_key[&(step.clone(), c.phone.clone(), device.clone())][0];
        assert!(old.contains(m.0.as_str()), "contact {id}'s failed copy is re-queued in place");
        let (status, error): (String, Option<String>) = conn
            .exec_first("SELECT status, error_message FROM broadcast_messages WHERE id = ?", (&m.0,))
            .unwrap()
            .unwrap();
        assert_eq!((status.as_str(), error), ("pending", None), "contact {id}'s failed copy is pending again");
        assert_eq!(logs[id.as_str()].3, "requeued");
        assert_eq!(logs[id.as_str()].4.as_deref(), Some(m.0.as_str()));
    }
    for (id, e) in queued {
        let Exp::Queued(step, device) = e else { unreachable!() };
        let c = generated[id.as_str()];
        let seq = w.sequences.iter().find(|s| s.id == c.sequence_id).unwrap();
        let st = w.steps.iter().find(|s| &s.id == step).unwrap();
        let m = by_key[&(step.clone(), c.phone.clone(), device.clone())][0];
        assert!(!old.contains(m.0.as_str()), "contact {id} got a new message");
        assert_eq!((&m.4, &m.5), (&seq.user_id, &seq.id));
        assert_eq!(m.6.as_deref(), Some(c.name.as_str()));
        assert_eq!((&m.7, m.8.as_deref()), (&st.message_type, Some(st.content.as_str())));
        let log = &logs[id];
        assert_eq!(log, &(seq.id.clone(), step.clone(), c.current_step + 1, "queued".to_string(), Some(m.0.clone())));
    }
    let (pending, timed): (u64, u64) = conn
        .query_first(format!(
            "SELECT SUM(status = 'pending'), SUM(created_at BETWEEN FROM_UNIXTIME({before}) AND FROM_UNIXTIME({after}) \
             AND scheduled_at = created_at) FROM broadcast_messages WHERE created_at > FROM_UNIXTIME({})",
            fixture_contacts::PAST + 1
        ))
        .unwrap()
        .map(|(a, b): (Option<u64>, Option<u64>)| (a.unwrap_or(0), b.unwrap_or(0)))
        .unwrap();
    assert_eq!((pending, timed), (msgs.len() as u64 - w.messages.len() as u64, pending), "new messages: pending, now");
}

fn tables_checksum(db: &TestDb) -> Vec<String> {
    ["broadcast_messages", "sequences", "sequence_steps", "sequence_contacts", "leads", "user_devices", "sequence_logs"]
        .iter()
        .map(|t| db.checksum(t))
        .collect()
}

fn rules_scenario(index: bool) {
    let db = TestDb::new(if index { "process_rules" } else { "process_rules_noindex" });
    let w = load(&db, 1_200, 5, index);
    let exp = expected(&w);
    let want = tally(&exp);
    assert!(want.values().all(|&n| n > 0), "the scenario covers every category: {want:?}");
    assert!(exp.values().filter(|e| **e == Exp::NotDue).count() > 0);
    let untouched = tables_checksum(&db);
    let flag = if index { vec![] } else { vec!["--allow-without-index"] };

    // Dry run: the same figures, nothing written, no ledger.
    let j = db.seqfix().args(["process", "--dry-run", "--format", "json"]).args(&flag).run().expect_code(0).json();
    assert_eq!(counts(&j), want);
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["run_id"], serde_json::Value::Null);
    assert_eq!(tables_checksum(&db), untouched);
    assert!(!db.has_table("seqfix_runs"));

    let before = server_now(&db);
    let j = db
        .seqfix()
        .args(["process", "--format", "json", "--batch-size", "100"])
        .args(&flag)
        .run()
        .expect_code(0)
        .json();
    let after = server_now(&db);
    assert_eq!(counts(&j), want);
    assert_eq!(j["skipped"], serde_json::Value::Null);
    assert_eq!(j["lock_acquired"], true);
    assert_eq!(j["without_index"], !index);
    assert_eq!(j["batches"], j["due"].as_u64().unwrap().div_ceil(100));
    verify_state(&db, &w, &exp, before, after);
    let run_id = j["run_id"].as_str().unwrap().to_string();
    let (status, queued): (String, u64) = db
        .conn()
        .exec_first(
            "SELECT status, JSON_VALUE(summary, '$.queued') FROM seqfix_runs WHERE run_id = ? AND command = 'process'",
            (&run_id,),
        )
        .unwrap()
        .unwrap();
    assert_eq!((status.as_str(), queued), ("succeeded", want["queued"]));

    // Within the step interval, a second pass queues nothing more.
    let state = tables_checksum(&db);
    let j = db
        .seqfix()
        .args(["process", "--format", "json", "--min-interval", "0s"])
        .args(&flag)
        .run()
        .expect_code(0)
        .json();
    let c = counts(&j);
    assert_eq!((c["queued"], c["already_queued"], c["completed"]), (0, 0, 0));
    assert_eq!(
        (c["no_step"], c["no_lead"], c["device_offline"]),
        (want["no_step"], want["no_lead"], want["device_offline"])
    );
    assert_eq!(tables_checksum(&db), state);
    if !index {
        let out = db.seqfix().args(["process", "--min-interval", "0s", "--allow-without-index"]).run().expect_code(0);
        assert!(out.stdout.contains("the lease is the only guard"), "{}", out.stdout);
    }
}

#[test]
fn rules_on_a_generated_scenario() {
    rules_scenario(true);
}

#[test]
fn rules_without_the_unique_index() {
    rules_scenario(false);
}

#[test]
fn limit_caps_the_pass() {
    let db = TestDb::new("process_limit");
    let w = load(&db, 400, 8, true);
    let due = expected(&w).values().filter(|e| **e != Exp::NotDue).count() as u64;
    let j = db.seqfix().args(["process", "--format", "json", "--limit", "50", "--batch-size", "7"]).run().json();
    assert_eq!((j["due"].as_u64(), j["batches"].as_u64()), (Some(50), Some(8)));
    let c = counts(&j);
    assert_eq!(c.values().sum::<u64>(), 50);
    // Contacts the first pass queued, found queued or completed are no longer due.
    let gone = c["queued"] + c["already_queued"] + c["completed"];
    let j = db.seqfix().args(["process", "--format", "json", "--min-interval", "0s"]).run().json();
    assert_eq!(j["due"].as_u64(), Some(due - gone));
}

/// Runs the world's expected outcome forward, as the database now holds it, and makes the
/// advanced contacts due again for the next round.
pub(crate) fn advance_world(db: &TestDb, w: &mut World, exp: &BTreeMap<String, Exp>) {
    for c in w.contacts.iter_mut() {
        match &exp[&c.id] {
            Exp::Queued(step, device) => {
                let m: (String, String) = db
                    .conn()
                    .exec_first(
                        "SELECT id, user_id FROM broadcast_messages WHERE sequence_stepid = ? AND recipient_phone = ? \
                         AND device_id = ?",
                        (step, &c.phone, device),
                    )
                    .unwrap()
                    .unwrap();
                w.messages.push(seqfix_fixture::messages::Message {
                    id: m.0,
                    user_id: m.1,
                    device_id: device.clone(),
                    campaign_id: None,
                    sequence_id: Some(c.sequence_id.clone()),
                    recipient_phone: c.phone.clone(),
                    message_type: String::new(),
                    content: String::new(),
                    media_url: None,
                    status: "pending".into(),
                    error_message: None,
                    scheduled_at: None,
                    sent_at: None,
                    created_at: None,
                    recipient_name: c.name.clone(),
                    sequence_stepid: Some(step.clone()),
                    processing_worker_id: None,
                    device_name: None,
                });
                c.current_step += 1;
                c.next_trigger_time = None;
            }
            Exp::AlreadyQueued(..) => {
                c.current_step += 1;
                c.next_trigger_time = None;
            }
            Exp::Requeued(step, device) => {
                let m = w
                    .messages
                    .iter_mut()
                    .find(|m| {
                        m.sequence_stepid.as_deref() == Some(step.as_str())
                            && m.recipient_phone == c.phone
                            && &m.device_id == device
                    })
                    .unwrap();
                m.status = "pending".into();
                m.error_message = None;
                c.current_step += 1;
                c.next_trigger_time = None;
            }
            Exp::Completed => c.status = "completed".into(),
            _ => {}
        }
    }
    // Due again: the contacts this round advanced (their next trigger is a day away).
    db.conn()
        .query_drop("UPDATE sequence_contacts SET next_trigger_time = NULL WHERE next_trigger_time BETWEEN NOW() AND NOW() + INTERVAL 2 DAY")
        .unwrap();
}

pub(crate) fn finish(children: Vec<Child>) -> Vec<Run> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            Run::from_output(out)
        })
        .collect()
}

#[test]
fn eight_at_once_queue_each_message_once() {
    let db = TestDb::new("process_eight");
    let mut w = load(&db, 800, 21, true);
    for round in 0..5 {
        let exp = expected(&w);
        let want = tally(&exp);
        // Rounds alternate: --min-interval 0s lets runs follow each other (the later ones find
        // nothing due); the default 30s lets exactly one run per round. Age the ledger so the
        // previous round does not count.
        let zero = round % 2 == 0;
        if db.has_table("seqfix_runs") {
            db.conn().query_drop("UPDATE seqfix_runs SET started_at = started_at - INTERVAL 1 HOUR").unwrap();
        }
        let busy = if round == 3 { "75" } else { "0" };
        let children: Vec<Child> = (0..8)
            .map(|_| {
                let mut args = vec!["process", "--format", "json", "--batch-size", "50", "--busy-exit-code", busy];
                if zero {
                    args.extend(["--min-interval", "0s"]);
                }
                db.seqfix().args(args).spawn()
            })
            .collect();
        let runs = finish(children);
        let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut ran = 0;
        for r in &runs {
            let j = r.json();
            match j["skipped"].as_str() {
                None => {
                    assert_eq!(r.code, 0, "{}", r.stderr);
                    ran += 1;
                    for (k, v) in counts(&j) {
                        if !matches!(k, "no_step" | "no_lead" | "device_offline") {
                            *total.entry(k).or_default() += v;
                        }
                    }
                }
                Some(s) => {
                    assert!(s == "locked" || (s == "min_interval" && !zero), "round {round}: {s}");
                    assert_eq!(r.code, busy.parse::<i32>().unwrap(), "{}", r.stderr);
                }
            }
        }
        assert!(ran >= 1, "round {round}: someone ran");
        if !zero {
            assert_eq!(ran, 1, "round {round}: one run per interval");
        }
        for k in ["queued", "already_queued", "completed"] {
            assert_eq!(total.get(k).copied().unwrap_or(0), want[k], "round {round}: {k}");
        }
        let dups: u64 = db
            .conn()
            .query_first(
                "SELECT COUNT(*) FROM (SELECT 1 FROM broadcast_messages GROUP BY sequence_stepid, recipient_phone, \
                 device_id HAVING COUNT(*) > 1) d",
            )
            .unwrap()
            .unwrap();
        assert_eq!(dups, 0);
        let before_msgs = w.messages.len();
        advance_world(&db, &mut w, &exp);
        assert_eq!(w.messages.len() - before_msgs, want["queued"] as usize);
        assert_eq!(db.count("broadcast_messages"), w.messages.len() as u64, "round {round}: each due contact once");
    }
}

#[test]
fn sigkill_mid_pass_then_another_pass() {
    let db = TestDb::new("process_kill");
    let w = load(&db, 2_000, 9, true);
    let exp = expected(&w);
    let before = server_now(&db);
    let mut child = db.seqfix().args(["process", "--batch-size", "2", "--min-interval", "0s"]).spawn();
    let mut conn = db.conn();
    let queued =
        |conn: &mut mysql::Conn| -> u64 { conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap() };
    while queued(&mut conn) < 20 {
        assert!(child.try_wait().unwrap().is_none(), "the pass ended before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "killed by a signal");
    let total_queued = exp.values().filter(|e| matches!(e, Exp::Queued(..))).count() as u64;
    assert!(queued(&mut conn) < total_queued, "killed in the middle");

    // Right after the kill: every new message has its log row and its contact advanced.
    let orphans: u64 = conn
        .query_first(
            "SELECT COUNT(*) FROM broadcast_messages m LEFT JOIN sequence_logs l ON l.message_id = m.id \
             LEFT JOIN sequence_contacts c ON c.id = l.contact_id AND c.current_step = l.day \
             WHERE m.created_at > '2026-01-01' AND c.id IS NULL",
        )
        .unwrap()
        .unwrap();
    assert_eq!(orphans, 0, "no message without its log row and advanced contact");
    // And no contact advanced without its message.
    let steps: Vec<(String, i32)> = conn.query("SELECT id, current_step FROM sequence_contacts").unwrap();
    let mut advanced = 0;
    for (id, step) in steps {
        let c = w.contacts.iter().find(|c| c.id == id).unwrap();
        if step == c.current_step + 1 {
            advanced += 1;
            let (Exp::Queued(s, d) | Exp::AlreadyQueued(s, d) | Exp::Requeued(s, d)) = &exp[&id] else {
                panic!("{id} advanced")
            };
            let n: u64 = conn
                .exec_first(
                    "SELECT COUNT(*) FROM broadcast_messages WHERE sequence_stepid = ? AND recipient_phone = ? AND device_id = ?",
                    (s, &c.phone, d),
                )
                .unwrap()
                .unwrap();
            assert_eq!(n, 1, "contact {id} advanced with its message");
        }
    }
    assert!(advanced >= 20);
    let (runs, running): (u64, u64) =
        conn.query_first("SELECT COUNT(*), SUM(status = 'running') FROM seqfix_runs").unwrap().unwrap();
    assert_eq!((runs, running), (1, 1), "the killed run stays `running` in the ledger");

    let j = db.seqfix().args(["process", "--format", "json", "--min-interval", "0s"]).run().expect_code(0).json();
    let after = server_now(&db);
    assert!(j["queued"].as_u64().unwrap() > 0 && j["queued"].as_u64().unwrap() < total_queued);
    verify_state(&db, &w, &exp, before, after);
}

/// The index-missing, missing-table and privilege paths change nothing and say what to do.
#[test]
fn refusals_change_nothing() {
    let db = TestDb::new("process_refusals");
    load(&db, 300, 4, false);
    let before = tables_checksum(&db);
    db.seqfix().args(["process"]).run().expect_error("run `seqfix migrate` to add it");
    let url = db.user_with("seqfix_noinsert", "pw", "SELECT, UPDATE");
    db.seqfix()
        .env("DATABASE_URL", &url)
        .args(["process", "--allow-without-index"])
        .run()
        .expect_error("may not INSERT");
    let url = db.user_with("seqfix_noupdate", "pw", "SELECT, INSERT");
    db.seqfix()
        .env("DATABASE_URL", &url)
        .args(["process", "--allow-without-index"])
        .run()
        .expect_error("may not UPDATE");
    // A dry run needs no write privilege.
    let url = db.user_with("seqfix_readonly", "pw", "SELECT, CREATE TEMPORARY TABLES");
    let j = db
        .seqfix()
        .env("DATABASE_URL", &url)
        .args(["process", "--allow-without-index", "--dry-run", "--format", "json"])
        .run()
        .expect_code(0)
        .json();
    assert!(j["queued"].as_u64().unwrap() > 0);
    assert_eq!(tables_checksum(&db), before);
    assert!(!db.has_table("seqfix_runs"), "no ledger created");

    db.conn().query_drop("DROP TABLE sequence_logs").unwrap();
    db.seqfix().args(["process", "--allow-without-index"]).run().expect_error("sequence_logs does not exist");
    db.conn().query_drop("ALTER TABLE sequence_contacts DROP COLUMN next_trigger_time").unwrap();
    db.seqfix()
        .args(["process", "--allow-without-index"])
        .run()
        .expect_error("sequence_contacts has no column next_trigger_time");
    assert!(!db.has_table("seqfix_runs"), "no ledger created");
}

#[test]
fn bad_flag_values() {
    let db = TestDb::new("process_flags");
    for (args, flag) in [
        (vec!["--step-interval", "soon"], "--step-interval"),
        (vec!["--step-interval", "0s"], "--step-interval"),
        (vec!["--batch-size", "0"], "--batch-size"),
        (vec!["--batch-size", "5001"], "--batch-size"),
        (vec!["--limit", "0"], "--limit"),
        (vec!["--min-interval", "often"], "--min-interval"),
        (vec!["--lock-timeout=-1s"], "--lock-timeout"),
        (vec!["--busy-exit-code", "256"], "--busy-exit-code"),
        (vec!["--lease-seconds", "0"], "--lease-seconds"),
        (vec!["--lease-seconds", "86401"], "--lease-seconds"),
        (vec!["--lease-seconds", "5m"], "--lease-seconds"),
    ] {
        let out = db.seqfix().args(["process"]).args(&args).run().expect_code(2);
        assert!(out.stderr.contains(flag), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn lock_held_elsewhere_and_min_interval_skip() {
    let db = TestDb::new("process_lock");
    load(&db, 200, 6, true);
    let before = tables_checksum(&db);
    let mut holder = db.conn();
    let got: i64 =
        holder.exec_first("SELECT GET_LOCK(?, 0)", (format!("seqfix.process.{}", db.name),)).unwrap().unwrap();
    assert_eq!(got, 1);
    let id: u64 = holder.query_first("SELECT CONNECTION_ID()").unwrap().unwrap();
    let j = db.seqfix().args(["process", "--format", "json"]).run().expect_code(0).json();
    assert_eq!((j["skipped"].as_str(), j["lock_acquired"].as_bool()), (Some("locked"), Some(false)));
    assert_eq!(j["lock_holder"].as_u64(), Some(id));
    assert_eq!(j["run_id"], serde_json::Value::Null);
    db.seqfix().args(["process", "--busy-exit-code", "75"]).run().expect_code(75);
    let out = db.seqfix().args(["process"]).run().expect_code(0);
    assert!(out.stdout.contains(&format!("connection {id}")), "{}", out.stdout);
    assert_eq!(tables_checksum(&db), before);
    assert!(!db.has_table("seqfix_runs"), "skipped runs are not recorded");
    drop(holder);

    db.seqfix().args(["process"]).run().expect_code(0);
    let j = db.seqfix().args(["process", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["skipped"].as_str(), Some("min_interval"));
    db.seqfix().args(["process", "--busy-exit-code", "75"]).run().expect_code(75);
    assert_eq!(db.count("seqfix_runs"), 1, "skips do not reset the interval");

    // --allow-node-local-lock is accepted, does nothing, and says it is deprecated.
    let out = db.seqfix().args(["process", "--allow-node-local-lock", "--min-interval", "0s"]).run().expect_code(0);
    assert!(out.stderr.contains("--allow-node-local-lock is deprecated and does nothing"), "{}", out.stderr);
    assert_eq!(db.count("seqfix_runs"), 2);
}

#[test]
fn lost_lock_connection_stops_the_run() {
    let db = TestDb::new("process_lost_lock");
    let w = load(&db, 1_500, 12, true);
    let exp = expected(&w);
    let before = server_now(&db);
    let mut child = db.seqfix().args(["process", "--batch-size", "1", "--min-interval", "0s"]).spawn();
    let mut conn = db.conn();
    let name = format!("seqfix.process.{}", db.name);
    loop {
        let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
        if logs >= 10 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the pass ended before its connection was killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    let holder: Option<u64> = conn.exec_first("SELECT IS_USED_LOCK(?)", (&name,)).unwrap().unwrap();
    conn.query_drop(format!("KILL {}", holder.expect("the run holds the lock"))).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    let queued = exp.values().filter(|e| matches!(e, Exp::Queued(..))).count() as u64;
    assert!(logs < queued, "stopped in the middle");

    // The killed run's lease is still live, but it was claimed on this node by a run that no
    // longer holds the node's lock: the next run takes it over at once, with the next fence.
    let (fence, live): (u64, i64) = conn
        .query_first("SELECT fence, expires_at > NOW(6) FROM seqfix_leases WHERE name = 'process'")
        .unwrap()
        .unwrap();
    assert_eq!(live, 1, "the killed run could not release its lease");
    let run = db.seqfix().args(["process", "--min-interval", "0s", "--format", "json"]).run().expect_code(0);
    assert!(run.stderr.contains("taking it over"), "{}", run.stderr);
    assert_eq!(run.json()["lease"]["fence"], fence + 1);
    let after = server_now(&db);
    verify_state(&db, &w, &exp, before, after);
}

/// Starts a pass of one contact per batch, waits until it has committed a few batches, then
/// runs `steal` on the lease row from another connection: that update waits for the batch
/// that holds the row (its renewal locked it) and commits after it. From then on the pass
/// must commit nothing: returns the log rows and messages there were when `steal` returned,
/// and the pass's run.
fn take_lease_mid_run(db: &TestDb, steal: &str) -> (u64, u64, Run) {
    let mut conn = db.conn();
    let start: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    let mut child =
        db.seqfix().args(["process", "--batch-size", "1", "--min-interval", "0s", "--format", "json"]).spawn();
    loop {
        let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
        if logs >= start + 10 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the pass ended before its lease was taken");
        std::thread::sleep(Duration::from_millis(2));
    }
    conn.query_drop(steal).unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    let msgs = db.count("broadcast_messages");
    let run = finish(vec![child]).pop().unwrap();
    (logs, msgs, run)
}

/// Another claimer takes the lease in the middle of a pass (a new holder and the next fence,
/// as a claim on another node writes them), then, in a second pass, the lease expires
/// (as when a batch outlasted it): each pass commits no further batch, stops with an error
/// that says the lease was lost, and is recorded as failed; the next pass finishes the job.
#[test]
fn a_run_whose_lease_was_taken_commits_no_further_batch() {
    let db = TestDb::new("process_lease_taken");
    let w = load(&db, 1_500, 14, true);
    let exp = expected(&w);
    let queued = exp.values().filter(|e| matches!(e, Exp::Queued(..))).count() as u64;
    let before = server_now(&db);
    let mut conn = db.conn();

    let (logs, msgs, run) = take_lease_mid_run(
        &db,
        "UPDATE seqfix_leases SET holder = 'another-run', node = 'elsewhere:3306', fence = fence + 1, \
         renewals = 0, claimed_at = NOW(6), expires_at = NOW(6) + INTERVAL 1 HOUR WHERE name = 'process'",
    );
    let run = run.expect_code(2);
    assert!(run.stderr.contains("lease lost"), "{}", run.stderr);
    assert!(run.stderr.contains("another-run on elsewhere:3306"), "says who holds it now: {}", run.stderr);
    let now_logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    assert_eq!(
        (now_logs, db.count("broadcast_messages")),
        (logs, msgs),
        "no batch committed after the lease was taken"
    );
    assert!(logs < queued, "stopped in the middle");
    let status: String = conn
        .query_first("SELECT status FROM seqfix_runs WHERE command = 'process' ORDER BY started_at DESC LIMIT 1")
        .unwrap()
        .unwrap();
    assert_eq!(status, "failed");
    // The other holder's lease stands: it is neither released nor renewed by the stopped run.
    let (holder, renewals): (String, u64) =
        conn.query_first("SELECT holder, renewals FROM seqfix_leases WHERE name = 'process'").unwrap().unwrap();
    assert_eq!((holder.as_str(), renewals), ("another-run", 0));

    // While that holder's lease is live, a pass (and a dry run) skips and names it.
    let state = tables_checksum(&db);
    let j = db.seqfix().args(["process", "--format", "json", "--min-interval", "0s"]).run().expect_code(0).json();
    assert_eq!((j["skipped"].as_str(), j["lock_acquired"].as_bool()), (Some("locked"), Some(false)), "{j}");
    assert_eq!(
        (j["lease"]["holder"].as_str(), j["lease"]["node"].as_str()),
        (Some("another-run"), Some("elsewhere:3306"))
    );
    assert_eq!(j["lock_holder"], serde_json::Value::Null);
    let j = db.seqfix().args(["process", "--format", "json", "--dry-run"]).run().expect_code(0).json();
    assert_eq!(j["skipped"].as_str(), Some("locked"), "{j}");
    let out = db.seqfix().args(["process", "--min-interval", "0s", "--busy-exit-code", "75"]).run().expect_code(75);
    assert!(
        out.stdout.contains("another run holds the lease: held by run another-run on elsewhere:3306"),
        "{}",
        out.stdout
    );
    assert_eq!(tables_checksum(&db), state);

    // Once it expires, a pass claims it with the next fence; its lease then expires mid-pass.
    conn.query_drop("UPDATE seqfix_leases SET expires_at = NOW(6) - INTERVAL 1 SECOND").unwrap();
    let fence: u64 = conn.query_first("SELECT fence FROM seqfix_leases").unwrap().unwrap();
    let (logs2, msgs2, run) = take_lease_mid_run(
        &db,
        "UPDATE seqfix_leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE name = 'process'",
    );
    let run = run.expect_code(2);
    assert!(run.stderr.contains("lease lost"), "{}", run.stderr);
    let now_logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    assert_eq!(
        (now_logs, db.count("broadcast_messages")),
        (logs2, msgs2),
        "no batch committed after the lease expired"
    );
    assert!(logs2 > logs, "the second pass committed batches before its lease expired");
    let (holder_fence, renewals): (u64, u64) =
        conn.query_first("SELECT fence, renewals FROM seqfix_leases").unwrap().unwrap();
    assert_eq!(holder_fence, fence + 1, "one claim since");
    assert!(renewals >= 10, "a renewal per batch: {renewals}");

    let j = db.seqfix().args(["process", "--min-interval", "0s", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["lease"]["fence"], fence + 2);
    let after = server_now(&db);
    verify_state(&db, &w, &exp, before, after);
    let (live,): (i64,) = conn.query_first("SELECT expires_at > NOW(6) FROM seqfix_leases").unwrap().unwrap();
    assert_eq!(live, 0, "released at the end");
}

/// The application pauses two contacts after seqfix read their batch and before it moved
/// them: one about to be queued, one about to be completed. The test holds their row locks,
/// so seqfix's write waits on them; the test pauses them and commits; seqfix must then
/// leave both as the application left them (counted `changed`) and do the rest of the batch.
#[test]
fn contacts_changed_after_the_read_are_left_alone() {
    let db = TestDb::new("process_changed");
    let mut w = load(&db, 300, 61, true);
    let exp = expected(&w);
    let first = |want: fn(&Exp) -> bool| exp.iter().find(|(_, e)| want(e)).map(|(id, _)| id.clone()).unwrap();
    let victims = [first(|e| matches!(e, Exp::Queued(..))), first(|e| matches!(e, Exp::Completed))];
    let before = server_now(&db);

    let mut app = db.conn();
    app.query_drop("START TRANSACTION").unwrap();
    let locked: Vec<String> =
        app.exec("SELECT id FROM sequence_contacts WHERE id IN (?, ?) FOR UPDATE", (&victims[0], &victims[1])).unwrap();
    assert_eq!(locked.len(), 2);
    let mut child =
        db.seqfix().args(["process", "--format", "json", "--min-interval", "0s", "--batch-size", "1000"]).spawn();
    let mut watch = db.conn();
    let mut waited = 0;
    loop {
        let waiting: u64 = watch
            .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")
            .unwrap()
            .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "seqfix ended without waiting for the locked contacts");
        waited += 1;
        assert!(waited < 150, "seqfix never waited for the locked contacts");
        // InnoDB refreshes what INNODB_TRX shows only when it was last read over 0.1 s ago.
        std::thread::sleep(Duration::from_millis(200));
    }
    app.exec_drop("UPDATE sequence_contacts SET status = 'paused' WHERE id IN (?, ?)", (&victims[0], &victims[1]))
        .unwrap();
    app.query_drop("COMMIT").unwrap();

    let run = finish(vec![child]).pop().unwrap().expect_code(0);
    let j = run.json();
    // What the rules say for the world as the application left it.
    for c in w.contacts.iter_mut().filter(|c| victims.contains(&c.id)) {
        c.status = "paused".into();
    }
    let exp = expected(&w);
    assert!(victims.iter().all(|v| exp[v] == Exp::NotDue));
    assert_eq!(counts(&j), tally(&exp), "{j}");
    assert_eq!(j["changed"], 2, "{j}");
    let after = server_now(&db);
    verify_state(&db, &w, &exp, before, after);
}

#[test]
fn sigterm_stops_after_a_whole_batch() {
    let db = TestDb::new("process_sigterm");
    let w = load(&db, 1_500, 13, true);
    let exp = expected(&w);
    let before = server_now(&db);
    let mut child =
        db.seqfix().args(["process", "--batch-size", "1", "--min-interval", "0s", "--format", "json"]).spawn();
    let mut conn = db.conn();
    loop {
        let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
        if logs >= 10 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the pass ended before SIGTERM");
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let run = finish(vec![child]).pop().unwrap().expect_code(130);
    let j = run.json();
    assert_eq!(j["interrupted"], true);
    let queued = exp.values().filter(|e| matches!(e, Exp::Queued(..))).count() as u64;
    let done = j["queued"].as_u64().unwrap();
    assert!(done > 0 && done < queued, "stopped in the middle");
    let logs: u64 = conn.query_first("SELECT COUNT(*) FROM sequence_logs").unwrap().unwrap();
    let requeued = j["requeued"].as_u64().unwrap();
    assert_eq!(logs, done + requeued, "what the report says was queued or re-queued is what was committed");
    let status: String = conn
        .exec_first("SELECT status FROM seqfix_runs WHERE run_id = ?", (j["run_id"].as_str().unwrap(),))
        .unwrap()
        .unwrap();
    assert_eq!(status, "interrupted");

    db.seqfix().args(["process", "--min-interval", "0s"]).run().expect_code(0);
    let after = server_now(&db);
    verify_state(&db, &w, &exp, before, after);
}

#[test]
fn metrics_file_holds_the_pass_figures() {
    let db = TestDb::new("process_metrics");
    let w = load(&db, 400, 41, true);
    let want = tally(&expected(&w));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("process.prom");
    db.seqfix().args(["process", "--metrics-file", path.to_str().unwrap()]).run().expect_code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not valid exposition text ({e:?}):\n{text}"));
    let value = |name: &str, label: (&str, &str)| -> f64 {
        let family = &exp.families[name];
        let hits: Vec<f64> = family
            .iter_samples()
            .filter(|s| s.get_labelset().unwrap().get_label_value(label.0) == Some(label.1))
            .map(|s| match &s.value {
                openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
                other => panic!("{name} is not a gauge: {other:?}"),
            })
            .collect();
        assert_eq!(hits.len(), 1, "{name} {label:?} in\n{text}");
        hits[0]
    };
    for (outcome, n) in &want {
        assert_eq!(value("seqfix_process_contacts", ("outcome", outcome)), *n as f64, "{outcome}");
    }
    assert_eq!(value("seqfix_process_skipped", ("reason", "locked")), 0.0);
    assert_eq!(value("seqfix_process_lock_acquired", ("command", "process")), 1.0);
    assert_eq!(value("seqfix_last_run_succeeded", ("command", "process")), 1.0);
    let succeeded_at = value("seqfix_last_success_timestamp_seconds", ("command", "process"));

    // A run right after it skips (--min-interval): that is not a success, so the file keeps
    // the time of the last pass that ran, and an alert on its age still fires.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    db.seqfix().args(["process", "--metrics-file", path.to_str().unwrap()]).run().expect_code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not valid exposition text ({e:?}):\n{text}"));
    let value = |name: &str| -> f64 {
        match &exp.families[name].iter_samples().next().unwrap().value {
            openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
            other => panic!("{name} is not a gauge: {other:?}"),
        }
    };
    let skipped: Vec<f64> = exp.families["seqfix_process_skipped"]
        .iter_samples()
        .filter(|s| s.get_labelset().unwrap().get_label_value("reason") == Some("min_interval"))
        .map(|s| match &s.value {
            openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
            other => panic!("not a gauge: {other:?}"),
        })
        .collect();
    assert_eq!(skipped, [1.0], "{text}");
    assert_eq!(value("seqfix_last_run_succeeded"), 0.0, "{text}");
    assert_eq!(value("seqfix_last_success_timestamp_seconds"), succeeded_at, "{text}");
}

/// On a server whose zone has daylight saving (Europe/Berlin), a step interval that crosses
/// a change still puts the next step exactly that many seconds after the pass: seqfix's
/// sessions work in UTC, where local arithmetic would be an hour off.
#[test]
fn next_steps_are_exact_across_a_daylight_saving_change() {
    let server = crate::common::Server::start_in_zone(crate::common::ServerOpts::default(), Some("Europe/Berlin"));
    let db = server.fresh_db("process_dst");
    load(&db, 120, 23, true);
    let mut c = db.conn();
    // The zone's offset at epoch t, from the server itself (its SYSTEM zone; the harness's
    // connections otherwise work in UTC).
    c.query_drop("SET time_zone = SYSTEM").unwrap();
    let offset = |c: &mut mysql::Conn, t: i64| -> i64 {
        c.exec_first(
            "SELECT TIMESTAMPDIFF(SECOND, TIMESTAMP('1970-01-01 00:00:00') + INTERVAL ? SECOND, FROM_UNIXTIME(?))",
            (t, t),
        )
        .unwrap()
        .unwrap()
    };
    let now = server_now(&db);
    let days = (1..=12).map(|k| k * 30).find(|d| offset(&mut c, now + d * 86_400) != offset(&mut c, now)).unwrap();
    assert_ne!(offset(&mut c, now), 0, "the server runs in Europe/Berlin, not UTC");
    let interval = days * 86_400;
    let read = |c: &mut mysql::Conn| -> BTreeMap<String, Option<i64>> {
        c.query_map("SELECT id, UNIX_TIMESTAMP(next_trigger_time) FROM sequence_contacts", |(id, t)| (id, t))
            .unwrap()
            .into_iter()
            .collect()
    };
    let untouched = read(&mut c);
    let before = server_now(&db);
    let j = db.seqfix().args(["process", "--format", "json", "--step-interval", &format!("{days}days")]).run();
    let after = server_now(&db);
    assert_eq!(j.code, 0, "{}", j.stderr);
    assert!(j.json()["queued"].as_u64().unwrap() > 0, "{}", j.stdout);
    // The contacts this pass advanced: their next_trigger_time changed.
    let next: Vec<i64> =
        read(&mut c).into_iter().filter(|(id, t)| untouched[id] != *t).filter_map(|(_, t)| t).collect();
    assert!(!next.is_empty());
    for t in next {
        assert!(
            (before..=after + 1).contains(&(t - interval)),
            "next step at {t}, {} s from the pass's {before}..{after} instead of {interval}",
            t - before
        );
    }
}

/// A failed copy is re-queued at most MAX_REQUEUES times (counted by its `requeued` log
/// rows); after that it stays failed, the contact advances, and the pass says so.
#[test]
fn a_message_that_keeps_failing_is_re_queued_a_bounded_number_of_times() {
    let db = TestDb::new("process_requeue_cap");
    db.create_schema();
    // Many contacts whose step's message exists, a third of them failed.
    let w = fixture_contacts::generate(&ContactSpec { already_queued_fraction: 0.4, ..ContactSpec::new(400, 31) });
    fixture_contacts::insert(&mut db.conn(), &w).unwrap();
    db.conn().query_drop(ADD_INDEX).unwrap();
    let exp = expected(&w);
    let requeued: Vec<(&String, &Exp)> = exp.iter().filter(|(_, e)| matches!(e, Exp::Requeued(..))).collect();
    assert!(requeued.len() >= 2, "the world holds failed copies to re-queue: {}", requeued.len());
    // The first of them has been re-queued MAX_REQUEUES times already.
    let (contact_id, Exp::Requeued(step, device)) = requeued[0] else { unreachable!() };
    let c = w.contacts.iter().find(|c| &c.id == contact_id).unwrap();
    let mut conn = db.conn();
    let message: String = conn
        .exec_first(
            "SELECT id FROM broadcast_messages WHERE sequence_stepid = ? AND recipient_phone = ? AND device_id = ?",
            (step, &c.phone, device),
        )
        .unwrap()
        .unwrap();
    for i in 0..seqfix::process::MAX_REQUEUES {
        conn.exec_drop(
            "INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status, message_id) \
             VALUES (?, ?, ?, ?, ?, 'requeued', ?)",
            (format!("earlier-{i}"), &c.sequence_id, &c.id, step, c.current_step + 1, &message),
        )
        .unwrap();
    }
    let j = db.seqfix().args(["process", "--format", "json"]).run().expect_code(0).json();
    assert_eq!(j["requeue_limit"], 1, "{j}");
    assert_eq!(j["requeued"].as_u64().unwrap(), requeued.len() as u64 - 1, "{j}");
    let status: String =
        conn.exec_first("SELECT status FROM broadcast_messages WHERE id = ?", (&message,)).unwrap().unwrap();
    assert_eq!(status, "failed", "left failed after the limit");
    let logged: u64 = conn
        .exec_first("SELECT COUNT(*) FROM sequence_logs WHERE message_id = ? AND status = 'requeue_limit'", (&message,))
        .unwrap()
        .unwrap();
    assert_eq!(logged, 1);
    let step_now: i32 =
        conn.exec_first("SELECT current_step FROM sequence_contacts WHERE id = ?", (&c.id,)).unwrap().unwrap();
    assert_eq!(step_now, c.current_step + 1, "the contact advances past the step it gave up");
}

/// The world of `load`, with values that need escaping when written as SQL literals: some
/// contact ids end in a quote, a backslash and a question mark, names and step contents
/// hold quotes, backslashes, `?` and `%`.
fn load_with_awkward_values(db: &TestDb, contacts: usize, seed: u64) -> World {
    db.create_schema();
    let mut world = fixture_contacts::generate(&ContactSpec::new(contacts, seed));
    for (i, c) in world.contacts.iter_mut().enumerate() {
        if i % 3 == 0 {
            c.id = format!("{}'\\?", &c.id[..33]);
        }
        if i % 2 == 0 {
            c.name = format!("O'Brien \\\"{i}\\\" ? -- #");
        }
    }
    for (i, s) in world.steps.iter_mut().enumerate() {
        if i % 2 == 0 {
            s.content = format!("it's \\ 100% \"day {}\" ?", s.day_number);
        }
    }
    fixture_contacts::insert(&mut db.conn(), &world).unwrap();
    db.conn().query_drop(ADD_INDEX).unwrap();
    world
}

/// Every row a pass writes or changes, without the ids and times it generates: contacts'
/// step and status, messages by key with everything the pass copies into them, log rows.
type PassResult = (Vec<(String, i32, String)>, Vec<Vec<Option<String>>>, Vec<Vec<Option<String>>>);

fn pass_result(db: &TestDb) -> PassResult {
    let mut c = db.conn();
    let contacts = c.query("SELECT id, current_step, status FROM sequence_contacts ORDER BY id").unwrap();
    let messages = c
        .query::<mysql::Row, _>(
            "SELECT sequence_stepid, recipient_phone, device_id, user_id, sequence_id, recipient_name, message_type, \
             content, media_url, status FROM broadcast_messages ORDER BY sequence_stepid, recipient_phone, device_id",
        )
        .unwrap()
        .into_iter()
        .map(|r| (0..r.len()).map(|i| r.get::<Option<String>, _>(i).unwrap()).collect())
        .collect();
    let logs = c
        .query::<mysql::Row, _>(
            "SELECT l.contact_id, l.sequence_id, l.step_id, CAST(l.day AS CHAR), l.status, m.sequence_stepid, \
             m.recipient_phone FROM sequence_logs l LEFT JOIN broadcast_messages m ON m.id = l.message_id \
             ORDER BY l.contact_id, l.status",
        )
        .unwrap()
        .into_iter()
        .map(|r| (0..r.len()).map(|i| r.get::<Option<String>, _>(i).unwrap()).collect())
        .collect();
    (contacts, messages, logs)
}

/// The batch statements sent as plain text with their values written as literals, as
/// process's batches do on Galera (`txn::Statements::Text`, with the still-open check before
/// each later statement and COMMIT), here on a plain server and under either sql_mode: the
/// same world processed by the binary (prepared statements) and, in two more databases, by
/// `seqfix::process::run` forced onto the text path. Each ends exactly as the rules say
/// (`verify_state`, computed from the world), the three are row for row alike, and the
/// counts are the rules' counts.
#[test]
fn text_statements_process_exactly_as_prepared_ones() {
    use clap::Parser;
    use seqfix::txn::Statements;
    let (contacts, seed) = (500, 23);
    let prepared = TestDb::new("process_text_prepared");
    let w = load_with_awkward_values(&prepared, contacts, seed);
    let exp = expected(&w);
    let want = tally(&exp);
    assert!(want.values().all(|&n| n > 0), "the scenario covers every category: {want:?}");
    assert!(w.contacts.iter().any(|c| c.id.ends_with("'\\?") && matches!(exp[&c.id], Exp::Queued(..))));
    let before = server_now(&prepared);
    let j = prepared.seqfix().args(["process", "--format", "json", "--batch-size", "40"]).run().expect_code(0).json();
    verify_state(&prepared, &w, &exp, before, server_now(&prepared));
    assert_eq!(counts(&j), want);
    let reference = pass_result(&prepared);

    for (name, no_backslash_escapes) in [("process_text_plain", false), ("process_text_nobackslash", true)] {
        let db = TestDb::new(name);
        let w2 = load_with_awkward_values(&db, contacts, seed);
        assert_eq!(expected(&w2), exp, "the same world");
        let cli = seqfix::cli::Cli::try_parse_from([
            "seqfix",
            "--database-url",
            &db.url,
            "--no-progress",
            "process",
            "--batch-size",
            "40",
        ])
        .unwrap();
        let seqfix::cli::Command::Process(args) = &cli.command else { unreachable!() };
        let cfg = seqfix::config::Config::from_args(&cli.global).unwrap();
        let mut sdb = seqfix::db::connect(&cfg.db).unwrap();
        if no_backslash_escapes {
            sdb.conn.query_drop("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')").unwrap();
        }
        let statements = Statements::for_galera(&mut sdb).unwrap();
        assert!(
            matches!(statements, Statements::Text { no_backslash_escapes: n, .. } if n == no_backslash_escapes),
            "{statements:?}"
        );
        let mut opts = seqfix::options::process_options(args);
        opts.statements = Some(statements);
        let before = server_now(&db);
        let report = seqfix::process::run(&mut sdb, &cfg, &opts).unwrap();
        verify_state(&db, &w2, &exp, before, server_now(&db));
        let j = serde_json::to_value(&report).unwrap();
        assert_eq!(counts(&j), want, "{name}");
        assert_eq!(
            (report.skipped, report.interrupted, report.batches),
            (None, false, j["due"].as_u64().unwrap().div_ceil(40))
        );
        assert_eq!(pass_result(&db), reference, "{name}: the text path wrote what the prepared path wrote");
    }
}
