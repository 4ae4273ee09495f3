//! Section 4 and 4b: `seqfix process` against one set-based SQL pass and the per-contact loop,
//! on contacts of their own.
use super::*;

/// A deterministic id in UUID layout: kind (table) and number.
pub(crate) fn sql_id(kind: u32, expr: &str) -> String {
    format!("CONCAT('00000000-0000-0000-{kind:04}-', LPAD({expr}, 12, '0'))")
}

pub(crate) const SEQUENCES: usize = 50;
pub(crate) const USERS: usize = 20;

/// A database with `n` due contacts: 50 active sequences of 7 daily steps owned by 20
/// users with one connected device each, one lead per phone (no index on phone, as in
/// production), every contact at step 0 with no next trigger time; the messages table is
/// empty and carries the unique index (`seqfix process` requires it).
pub(crate) fn contacts_db(b: &Bench, label: &str, n: usize) -> TestDb {
    let db = b.fresh(label);
    let mut c = conn(&db.url);
    fixture::create_schema(&mut c).unwrap();
    c.query_drop(BARE_ALTER).unwrap();
    // 1..=n (MariaDB's seq_1_to_N tables do not exist on MySQL).
    c.query_drop("CREATE TABLE bench_numbers (seq INT NOT NULL PRIMARY KEY)").unwrap();
    let top = n.max(SEQUENCES).max(USERS).max(7);
    for start in (1..=top).step_by(10_000) {
        let values: Vec<String> = (start..=(start + 9_999).min(top)).map(|i| format!("({i})")).collect();
        c.query_drop(format!("INSERT INTO bench_numbers VALUES {}", values.join(","))).unwrap();
    }
    let user = |e: &str| sql_id(2, e);
    let stmts = [
        format!(
            "INSERT INTO user_devices (id, user_id, device_name, status) SELECT {}, {}, CONCAT('device-', seq), \
             'connected' FROM bench_numbers WHERE seq <= {USERS}",
            sql_id(3, "seq"),
            user("seq")
        ),
        format!(
            "INSERT INTO sequences (id, user_id, name, status, total_days, is_active) SELECT {}, {}, \
             CONCAT('sequence ', seq), 'active', 7, 1 FROM bench_numbers WHERE seq <= {SEQUENCES}",
            sql_id(1, "seq"),
            user(&format!("1 + seq % {USERS}"))
        ),
        format!(
            "INSERT INTO sequence_steps (id, sequence_id, day_number, message_type, content) SELECT {}, {}, d.seq, \
             'text', CONCAT('Day ', d.seq, ' of sequence ', s.seq) FROM bench_numbers s \
             JOIN bench_numbers d WHERE s.seq <= {SEQUENCES} AND d.seq <= 7",
            sql_id(5, "s.seq * 10 + d.seq"),
            sql_id(1, "s.seq")
        ),
        // Contact i is in sequence 1 + i % 50, whose user is 1 + (1 + i % 50) % 20.
        format!(
            "INSERT INTO leads (device_id, user_id, name, phone) SELECT {}, {}, CONCAT('Lead ', seq), \
             CONCAT('601', LPAD(seq, 8, '0')) FROM bench_numbers WHERE seq <= {n}",
            sql_id(3, &format!("1 + (1 + seq % {SEQUENCES}) % {USERS}")),
            user(&format!("1 + (1 + seq % {SEQUENCES}) % {USERS}"))
        ),
        format!(
            "INSERT INTO sequence_contacts (id, sequence_id, contact_phone, contact_name, current_step, status, \
             next_trigger_time) SELECT {}, {}, CONCAT('601', LPAD(seq, 8, '0')), CONCAT('Contact ', seq), 0, \
             'active', NULL FROM bench_numbers WHERE seq <= {n}",
            sql_id(4, "seq"),
            sql_id(1, &format!("1 + seq % {SEQUENCES}"))
        ),
    ];
    for s in stmts {
        c.query_drop(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
    }
    // Fresh statistics, so that every contender gets the same plans.
    for t in ["user_devices", "sequences", "sequence_steps", "leads", "sequence_contacts", TABLE] {
        let _: Vec<mysql::Row> = c.query(format!("ANALYZE TABLE {t}")).unwrap();
    }
    db
}

/// The set-based reference pass in plain SQL, in one transaction: the due contacts with
/// their step, lead (smallest id per phone and user) and device, then
/// `INSERT ... SELECT` messages, `UPDATE ... JOIN` contacts, `INSERT ... SELECT` logs.
pub(crate) fn set_based_pass(url: &str) {
    let mut c = conn(url);
    // Steps and leads have no index on the columns looked up (as in production): key them
    // once in temporary tables, so that every contact costs a few primary-key lookups.
    c.query_drop(
        "CREATE TEMPORARY TABLE step_of (PRIMARY KEY (sequence_id, day_number)) ENGINE=InnoDB AS \
         SELECT sequence_id, day_number, MIN(id) AS id FROM sequence_steps GROUP BY sequence_id, day_number",
    )
    .unwrap();
    c.query_drop(
        "CREATE TEMPORARY TABLE first_lead (PRIMARY KEY (phone, user_id)) ENGINE=InnoDB AS \
         SELECT phone, user_id, MIN(id) AS id FROM leads GROUP BY phone, user_id",
    )
    .unwrap();
    let due = "CREATE TEMPORARY TABLE due ENGINE=InnoDB AS \
        SELECT c.id AS contact_id, c.sequence_id, s.user_id, d.id AS device_id, st.id AS step_id, \
               st.message_type, st.content, st.media_url, c.contact_phone, c.contact_name, \
               c.current_step + 1 AS day, UUID() AS message_id \
        FROM sequence_contacts c \
        JOIN sequences s ON s.id = c.sequence_id AND s.is_active = 1 AND s.status = 'active' \
        JOIN step_of so ON so.sequence_id = s.id AND so.day_number = c.current_step + 1 \
        JOIN sequence_steps st ON st.id = so.id \
        JOIN first_lead fl ON fl.phone = c.contact_phone AND fl.user_id = s.user_id \
        JOIN leads l ON l.id = fl.id \
        JOIN user_devices d ON d.id = l.device_id AND d.user_id = s.user_id AND d.status IN ('connected', 'online') \
        WHERE c.status = 'active' AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW()) \
          AND c.current_step + 1 <= s.total_days";
    c.query_drop(due).unwrap();
    c.query_drop("START TRANSACTION").unwrap();
    c.query_drop(
        "INSERT IGNORE INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, \
         recipient_phone, recipient_name, message_type, content, media_url, status, scheduled_at, created_at) \
         SELECT message_id, user_id, device_id, sequence_id, step_id, contact_phone, contact_name, message_type, \
         content, media_url, 'pending', NOW(), NOW() FROM due",
    )
    .unwrap();
    c.query_drop(
        "UPDATE sequence_contacts c JOIN due ON due.contact_id = c.id \
         SET c.current_step = due.day, c.next_trigger_time = NOW() + INTERVAL 24 HOUR",
    )
    .unwrap();
    c.query_drop(
        "INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status, message_id) \
         SELECT UUID(), sequence_id, contact_id, step_id, day, 'queued', message_id FROM due",
    )
    .unwrap();
    c.query_drop(
        "UPDATE sequence_contacts c JOIN sequences s ON s.id = c.sequence_id \
         SET c.status = 'completed', c.completed_at = NOW() \
         WHERE c.status = 'active' AND s.is_active = 1 AND s.status = 'active' AND c.current_step + 1 > s.total_days \
           AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW())",
    )
    .unwrap();
    c.query_drop("COMMIT").unwrap();
}

/// The application's loop, one statement per lookup and per write, autocommit.
pub(crate) fn per_contact_pass(url: &str) {
    let mut c = conn(url);
    let due: Vec<(String, String, String, String, i32)> = c
        .query(
            "SELECT c.id, c.sequence_id, c.contact_phone, c.contact_name, c.current_step FROM sequence_contacts c \
             JOIN sequences s ON s.id = c.sequence_id WHERE s.is_active = 1 AND s.status = 'active' AND c.status = 'active' \
             AND (c.next_trigger_time IS NULL OR c.next_trigger_time <= NOW())",
        )
        .unwrap();
    for (contact, seq, phone, name, step) in due {
        let next = step + 1;
        let (user, total): (String, i32) =
            c.exec_first("SELECT user_id, total_days FROM sequences WHERE id = ?", (&seq,)).unwrap().unwrap();
        if next > total {
            c.exec_drop(
                "UPDATE sequence_contacts SET status = 'completed', completed_at = NOW() WHERE id = ?",
                (&contact,),
            )
            .unwrap();
            continue;
        }
        let Some((step_id, mtype, content)): Option<(String, String, Option<String>)> = c
            .exec_first(
                "SELECT id, message_type, content FROM sequence_steps WHERE sequence_id = ? AND day_number = ?",
                (&seq, next),
            )
            .unwrap()
        else {
            continue;
        };
        let Some(device): Option<String> = c
            .exec_first(
                "SELECT device_id FROM leads WHERE phone = ? AND user_id = ? ORDER BY id LIMIT 1",
                (&phone, &user),
            )
            .unwrap()
        else {
            continue;
        };
        let ok: Option<String> = c
            .exec_first(
                "SELECT id FROM user_devices WHERE id = ? AND user_id = ? AND status IN ('connected', 'online')",
                (&device, &user),
            )
            .unwrap();
        if ok.is_none() {
            continue;
        }
        let exists: u64 = c
            .exec_first(
                "SELECT COUNT(*) FROM broadcast_messages WHERE sequence_stepid = ? AND recipient_phone = ? \
                 AND device_id = ? AND status IN ('pending', 'sent', 'queued', 'processing')",
                (&step_id, &phone, &device),
            )
            .unwrap()
            .unwrap_or(0);
        let id = uuid::Uuid::new_v4().to_string();
        if exists == 0 {
            c.exec_drop(
                "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, \
                 recipient_name, message_type, content, status, scheduled_at, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NOW(), NOW())",
                (&id, &user, &device, &seq, &step_id, &phone, &name, &mtype, &content),
            )
            .unwrap();
        }
        c.exec_drop(
            "UPDATE sequence_contacts SET current_step = ?, next_trigger_time = NOW() + INTERVAL 24 HOUR WHERE id = ?",
            (next, &contact),
        )
        .unwrap();
        c.exec_drop(
            "INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status, message_id) \
             VALUES (UUID(), ?, ?, ?, ?, 'queued', ?)",
            (&seq, &contact, &step_id, next, &id),
        )
        .unwrap();
    }
}

pub(crate) fn process_args() -> Vec<&'static str> {
    vec!["process", "--format", "json", "--no-progress", "--min-interval", "0s", "--batch-size", "500"]
}

pub(crate) fn check_queued(url: &str, n: usize) -> Option<String> {
    let mut c = conn(url);
    let msgs = count(&mut c, "SELECT COUNT(*) FROM broadcast_messages");
    let advanced = count(&mut c, "SELECT COUNT(*) FROM sequence_contacts WHERE current_step = 1");
    let logs = count(&mut c, "SELECT COUNT(*) FROM sequence_logs");
    if msgs as usize != n || advanced as usize != n || logs as usize != n {
        Some(format!("expected {n} messages/contacts/logs, found {msgs}/{advanced}/{logs}!"))
    } else {
        None
    }
}

pub(crate) fn process_section(b: &mut Bench) {
    const S: &str = "4. process";
    let n = b.args.contacts;
    let (mut seqfix_t, mut set_t) = (vec![], vec![]);
    let mut note = String::new();
    let mut available = true;
    let mut rss = None;
    for rep in 0..b.args.reps {
        if available {
            let db = contacts_db(b, &format!("process_seqfix_{rep}"), n);
            let run = b.seqfix(&db.url, &process_args());
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    rss = Some(run.maxrss_kb);
                    if let Some(p) = check_queued(&db.url, n) {
                        note = p;
                    }
                }
            }
        }
        let db = contacts_db(b, &format!("process_set_{rep}"), n);
        set_t.push(timed(|| set_based_pass(&db.url)).1);
        if let Some(p) = check_queued(&db.url, n) {
            panic!("set-based reference: {p}");
        }
    }
    b.memory.push(("process".into(), n, rss, note.clone()));
    let seq_name = format!("seqfix process @ {n} contacts");
    let set_name = format!("set-based SQL @ {n} contacts");
    b.push(S, &seq_name, seqfix_t, note);
    b.push(S, &set_name, set_t, "INSERT ... SELECT + UPDATE ... JOIN + INSERT ... SELECT, one transaction; steps and first leads keyed in temporary tables");
    b.compare(S, &seq_name, &set_name, Some(2.0));

    // The per-contact loop, at a size it survives; one run of each contender.
    let m = b.args.loop_contacts;
    let db = contacts_db(b, "process_loop", m);
    let t_loop = timed(|| per_contact_pass(&db.url)).1;
    if let Some(p) = check_queued(&db.url, m) {
        panic!("per-contact reference: {p}");
    }
    let db = contacts_db(b, "process_set_small", m);
    let t_set = timed(|| set_based_pass(&db.url)).1;
    let db = contacts_db(b, "process_seqfix_small", m);
    let run = b.seqfix(&db.url, &process_args());
    let (times, note) = match run.problem() {
        Some(p) => (vec![], p),
        None => (vec![run.secs], check_queued(&db.url, m).unwrap_or_default()),
    };
    if run.problem().is_none() {
        b.memory.push(("process".into(), m, Some(run.maxrss_kb), String::new()));
    }
    const SL: &str = "4b. process, per-contact loop (one run each)";
    let set_small = format!("set-based SQL @ {m} contacts");
    b.push(SL, &set_small, vec![t_set], "");
    b.push(SL, &format!("per-contact loop @ {m} contacts"), vec![t_loop], "one statement per lookup, autocommit");
    b.push(SL, &format!("seqfix process @ {m} contacts"), times, note);
    b.compare(SL, &format!("per-contact loop @ {m} contacts"), &set_small, None);
    b.compare(SL, &format!("seqfix process @ {m} contacts"), &set_small, None);
}

// ---------------------------------------------------------------------------------------
// Impact on the live application
