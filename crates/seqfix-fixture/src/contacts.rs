//! Deterministic sample data for `seqfix process`: users and their devices, sequences with
//! steps, leads and enrolled contacts, in every situation the processing rules distinguish
//! (and in situations that make a contact not due). Tests compute the expected outcome
//! from the returned rows with their own reading of the rules; benchmarks load 100,000
//! contacts in a few seconds through multi-row inserts.
//!
//! What it builds: each user has a `connected`, an `online` and an `offline` device; sequences
//! are mostly active, with 2-8 days and a missing day now and then (`no_step`); contacts sit
//! at every step including past the last day (`completed`), mostly due (`next_trigger_time`
//! NULL or past), some in the future, paused or in an inactive sequence. Leads: most phones
//! have one lead for the sequence's user, some several (ids are shuffled, so the smallest id is
//! not the first inserted, and the duplicates point at different devices), some none, some
//! only under another user; some leads point at another user's device or at a device that
//! does not exist. Optionally a message already exists for a contact's next step (a run
//! that queued it and died before advancing the contact: `already_queued`).
use std::collections::HashMap;

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::messages::{uuid_from, Message};

/// Long past (2025-06-01) and far future (2037-01-01) trigger times: no doubt about "due".
pub const PAST: i64 = 1_748_736_000;
pub const FUTURE: i64 = 2_114_380_800;

/// What to generate.
#[derive(Debug, Clone)]
pub struct ContactSpec {
    pub contacts: usize,
    pub seed: u64,
    /// Fraction of contacts whose next step's message already exists.
    pub already_queued_fraction: f64,
}

impl ContactSpec {
    pub fn new(contacts: usize, seed: u64) -> ContactSpec {
        ContactSpec { contacts, seed, already_queued_fraction: 0.03 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    pub user_id: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub id: String,
    pub user_id: String,
    pub total_days: i32,
    pub is_active: bool,
    /// The application's other flag: `active`, or `draft` (the column's default) and
    /// `paused`, which must not be processed even with is_active = 1.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub sequence_id: String,
    pub day_number: i32,
    pub message_type: String,
    pub content: String,
    pub media_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub id: i64,
    pub device_id: String,
    pub user_id: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: String,
    pub sequence_id: String,
    pub phone: String,
    pub name: String,
    pub current_step: i32,
    pub status: String,
    /// Unix seconds; `None` is NULL (due).
    pub next_trigger_time: Option<i64>,
}

/// Everything generated, exactly as loaded.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub users: Vec<String>,
    pub devices: Vec<Device>,
    pub sequences: Vec<Sequence>,
    pub steps: Vec<Step>,
    pub leads: Vec<Lead>,
    pub contacts: Vec<Contact>,
    /// Messages that exist before the pass (for `already_queued`).
    pub messages: Vec<Message>,
}

/// Builds the world for `spec`. The same spec always yields the same rows.
pub fn generate(spec: &ContactSpec) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut w = World::default();
    let n_users = (spec.contacts / 5_000).clamp(3, 40);
    w.users = (0..n_users).map(|_| uuid_from(&mut rng)).collect();
    for u in &w.users {
        for status in ["connected", "online", "offline"] {
            w.devices.push(Device { id: uuid_from(&mut rng), user_id: u.clone(), status: status.into() });
        }
    }
    let n_seq = (spec.contacts / 500).clamp(8, 400);
    for i in 0..n_seq {
        let seq = Sequence {
            id: uuid_from(&mut rng),
            user_id: w.users[i % n_users].clone(),
            total_days: rng.gen_range(2..=8),
            // The first two are always active so that small worlds cover every category.
            is_active: i < 2 || !rng.gen_bool(0.12),
            status: match i {
                0 | 1 => "active",
                // Sequence 2 is always a draft, so small worlds hold one.
                2 => "draft",
                _ if rng.gen_bool(0.06) => "paused",
                _ if rng.gen_bool(0.06) => "draft",
                _ => "active",
            }
            .into(),
        };
        for day in 1..=seq.total_days {
            // Sequence 0 always lacks day 2, so `no_step` occurs in small worlds.
            if (i == 0 && day == 2) || (i > 1 && rng.gen_bool(0.08)) {
                continue;
            }
            let image = day % 3 == 0;
            w.steps.push(Step {
                id: uuid_from(&mut rng),
                sequence_id: seq.id.clone(),
                day_number: day,
                message_type: if image { "image" } else { "text" }.into(),
                content: format!("Day {day}: hello from {}", &seq.id[..8]),
                media_url: if image { Some(format!("https://cdn.example/s/{day}.jpg")) } else { None },
            });
        }
        w.sequences.push(seq);
    }
    for c in 0..spec.contacts {
        let seq = &w.sequences[if c < 40 { c % 2 } else { rng.gen_range(0..n_seq) }];
        let phone = format!("601{:08}", rng.gen_range(0..100_000_000u32));
        let current_step = rng.gen_range(0..=seq.total_days);
        let roll = rng.gen_range(0..100);
        let (status, next) = match roll {
            0..=19 => ("active", None),
            20..=79 => ("active", Some(PAST + rng.gen_range(0..86_400 * 30))),
            80..=89 => ("active", Some(FUTURE + rng.gen_range(0..86_400))),
            90..=94 => ("paused", None),
            _ => ("completed", Some(PAST)),
        };
        let contact = Contact {
            id: uuid_from(&mut rng),
            sequence_id: seq.id.clone(),
            phone: phone.clone(),
            name: format!("Contact {c}"),
            current_step,
            status: status.into(),
            next_trigger_time: next,
        };
        add_leads(&mut rng, &mut w.leads, &w.devices, &w.users, &seq.user_id, &phone);
        w.contacts.push(contact);
    }
    // Lead ids in shuffled order: the smallest id is not the first one written.
    let mut ids: Vec<i64> = (1..=w.leads.len() as i64).collect();
    ids.shuffle(&mut rng);
    for (lead, id) in w.leads.iter_mut().zip(ids) {
        lead.id = id;
    }
    add_existing_messages(&mut rng, &mut w, spec.already_queued_fraction);
    w
}

fn add_leads(
    rng: &mut ChaCha8Rng,
    leads: &mut Vec<Lead>,
    devices: &[Device],
    users: &[String],
    user: &str,
    phone: &str,
) {
    let own: Vec<&Device> = devices.iter().filter(|d| d.user_id == user).collect();
    let lead =
        |device_id: String, user_id: &str| Lead { id: 0, device_id, user_id: user_id.into(), phone: phone.into() };
    match rng.gen_range(0..100) {
        // No lead at all.
        0..=7 => {}
        // A lead only under another user: still no lead for this sequence.
        8..=10 => {
            let other = users.iter().find(|u| *u != user).expect("several users");
            leads.push(lead(devices.iter().find(|d| &d.user_id == other).unwrap().id.clone(), other));
        }
        // The lead's device belongs to another user.
        11..=13 => {
            let foreign = devices.iter().find(|d| d.user_id != user).unwrap();
            leads.push(lead(foreign.id.clone(), user));
        }
        // The lead's device does not exist.
        14..=15 => leads.push(lead(uuid_from(rng), user)),
        // Several leads for the same phone and user, on different devices.
        16..=35 => {
            for _ in 0..rng.gen_range(2..=3) {
                leads.push(lead(own[rng.gen_range(0..own.len())].id.clone(), user));
            }
        }
        _ => leads.push(lead(own[rng.gen_range(0..own.len())].id.clone(), user)),
    }
}

/// For some contacts whose next step, lead and device exist, a pending message already holds
/// the key the pass would insert (the generator's own view of the data; the rules decide).
fn add_existing_messages(rng: &mut ChaCha8Rng, w: &mut World, fraction: f64) {
    if fraction <= 0.0 {
        return;
    }
    let seqs: HashMap<&str, &Sequence> = w.sequences.iter().map(|q| (q.id.as_str(), q)).collect();
    let steps: HashMap<(&str, i32), &Step> =
        w.steps.iter().map(|t| ((t.sequence_id.as_str(), t.day_number), t)).collect();
    let mut first_lead: HashMap<(&str, &str), &Lead> = HashMap::new();
    for l in &w.leads {
        let e = first_lead.entry((l.phone.as_str(), l.user_id.as_str())).or_insert(l);
        if l.id < e.id {
            *e = l;
        }
    }
    let mut out = Vec::new();
    for c in &w.contacts {
        if !rng.gen_bool(fraction) {
            continue;
        }
        let seq = seqs[c.sequence_id.as_str()];
        let Some(step) = steps.get(&(seq.id.as_str(), c.current_step + 1)) else { continue };
        let Some(lead) = first_lead.get(&(c.phone.as_str(), seq.user_id.as_str())) else { continue };
        // Most copies are on their way; some failed, which the pass must queue again.
        let (status, error) = match rng.gen_range(0..20) {
            0..=6 => ("failed", Some("device disconnected".to_string())),
            7..=9 => ("sent", None),
            _ => ("pending", None),
        };
        out.push(Message {
            id: uuid_from(rng),
            user_id: seq.user_id.clone(),
            device_id: lead.device_id.clone(),
            campaign_id: None,
            sequence_id: Some(seq.id.clone()),
            recipient_phone: c.phone.clone(),
            message_type: step.message_type.clone(),
            content: step.content.clone(),
            media_url: step.media_url.clone(),
            status: status.into(),
            error_message: error,
            scheduled_at: Some(PAST),
            sent_at: None,
            created_at: Some(PAST),
            recipient_name: c.name.clone(),
            sequence_stepid: Some(step.id.clone()),
            processing_worker_id: None,
            device_name: None,
        });
    }
    w.messages = out;
}

/// Inserts `rows` into `table (columns)` with multi-row statements of up to 1,000 rows.
/// `tuple` is the row's placeholders, e.g. `(?, FROM_UNIXTIME(?))`; `None` means all plain `?`.
fn insert_rows(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    tuple: Option<&str>,
    rows: impl Iterator<Item = Vec<Value>>,
) -> Result<()> {
    const CHUNK: usize = 1_000;
    let tuple = tuple.map(str::to_string).unwrap_or_else(|| format!("({})", vec!["?"; columns.len()].join(", ")));
    let head = format!("INSERT INTO `{table}` ({}) VALUES ", columns.join(", "));
    let mut buf: Vec<Value> = Vec::new();
    let mut n = 0;
    let flush = |conn: &mut Conn, buf: &mut Vec<Value>, n: &mut usize| -> Result<()> {
        if *n > 0 {
            let sql = format!("{head}{}", vec![tuple.as_str(); *n].join(", "));
            conn.exec_drop(sql, std::mem::take(buf)).with_context(|| format!("inserting sample rows into {table}"))?;
            *n = 0;
        }
        Ok(())
    };
    for row in rows {
        buf.extend(row);
        n += 1;
        if n == CHUNK {
            flush(conn, &mut buf, &mut n)?;
        }
    }
    flush(conn, &mut buf, &mut n)
}

/// Loads the world into the fixture tables (created by `fixture::create_schema`) of the
/// connection's database; messages go to `broadcast_messages`.
pub fn insert(conn: &mut Conn, w: &World) -> Result<()> {
    conn.query_drop("SET time_zone = '+00:00'")?;
    let s = |v: &str| Value::from(v);
    insert_rows(
        conn,
        "user_devices",
        &["id", "user_id", "device_name", "status"],
        None,
        w.devices.iter().map(|d| vec![s(&d.id), s(&d.user_id), s(&format!("device {}", &d.id[..8])), s(&d.status)]),
    )?;
    insert_rows(
        conn,
        "sequences",
        &["id", "user_id", "name", "status", "total_days", "is_active"],
        None,
        w.sequences.iter().map(|q| {
            vec![
                s(&q.id),
                s(&q.user_id),
                s(&format!("sequence {}", &q.id[..8])),
                s(&q.status),
                Value::from(q.total_days),
                Value::from(q.is_active as i32),
            ]
        }),
    )?;
    insert_rows(
        conn,
        "sequence_steps",
        &["id", "sequence_id", "day_number", "message_type", "content", "media_url"],
        None,
        w.steps.iter().map(|t| {
            vec![
                s(&t.id),
                s(&t.sequence_id),
                Value::from(t.day_number),
                s(&t.message_type),
                s(&t.content),
                t.media_url.as_deref().map(Value::from).unwrap_or(Value::NULL),
            ]
        }),
    )?;
    insert_rows(
        conn,
        "leads",
        &["id", "device_id", "user_id", "name", "phone"],
        None,
        w.leads.iter().map(|l| vec![Value::from(l.id), s(&l.device_id), s(&l.user_id), s("Lead"), s(&l.phone)]),
    )?;
    insert_rows(
        conn,
        "sequence_contacts",
        &["id", "sequence_id", "contact_phone", "contact_name", "current_step", "status", "next_trigger_time"],
        Some("(?, ?, ?, ?, ?, ?, FROM_UNIXTIME(?))"),
        w.contacts.iter().map(|c| {
            vec![
                s(&c.id),
                s(&c.sequence_id),
                s(&c.phone),
                s(&c.name),
                Value::from(c.current_step),
                s(&c.status),
                c.next_trigger_time.map(Value::from).unwrap_or(Value::NULL),
            ]
        }),
    )?;
    let table = seqfix::ident::Ident::new("table", "broadcast_messages")?;
    crate::messages::insert(conn, &table, w.messages.iter().cloned())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        let a = generate(&ContactSpec::new(500, 3));
        let b = generate(&ContactSpec::new(500, 3));
        assert_eq!(a.contacts, b.contacts);
        assert_eq!(a.leads, b.leads);
        assert_eq!(a.messages, b.messages);
        assert_eq!(a.contacts.len(), 500);
        assert!(!a.messages.is_empty());
    }
}
