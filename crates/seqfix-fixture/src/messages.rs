//! Deterministic sample data in the shape of production, for tests, benchmarks and the
//! sandbox. The generator *knows* the structure it builds (which rows are copies of one
//! message), so tests can compute the right answer without asking seqfix.
//!
//! What it builds, per "logical" sequence message: usually one row; with probability
//! `dup_fraction` 2-4 copies, some sharing a `created_at` second, some with a NULL one,
//! some where the oldest copy `failed` or is still `pending` or `queued` and a newer one was
//! `sent` (statuses sent, processing, queued, pending, failed); now and then an extra
//! row for the same step and device whose phone is written differently (`+60 12-345 6789`),
//! a near-duplicate the unique index cannot catch; and campaign rows
//! (`sequence_stepid` NULL) that share phones and devices with sequence rows.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use seqfix::ident::Ident;

/// The schema of the production tables (plus columns the live table gained later).
pub const SCHEMA_SQL: &str = include_str!("../sql/schema.sql");

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub rows: usize,
    pub seed: u64,
    /// Fraction of sequence messages that were queued more than once.
    pub dup_fraction: f64,
    /// Fraction of rows that are campaign (non-sequence) messages.
    pub campaign_fraction: f64,
    /// Fraction of sequence messages with an extra near-duplicate (differently formatted phone).
    pub near_dup_fraction: f64,
}

impl Spec {
    /// About 8% surplus rows, as measured in production.
    pub fn new(rows: usize, seed: u64) -> Spec {
        Spec { rows, seed, dup_fraction: 0.045, campaign_fraction: 0.10, near_dup_fraction: 0.004 }
    }
}

/// One row of `broadcast_messages`. Timestamps are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub campaign_id: Option<i32>,
    pub sequence_id: Option<String>,
    pub recipient_phone: String,
    pub message_type: String,
    pub content: String,
    pub media_url: Option<String>,
    pub status: String,
    pub error_message: Option<String>,
    pub scheduled_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub created_at: Option<i64>,
    pub recipient_name: String,
    pub sequence_stepid: Option<String>,
    pub processing_worker_id: Option<String>,
    pub device_name: Option<String>,
}

/// Column list used by `insert`, in the order of `Message::values`.
const COLUMNS: &str = "id, user_id, device_id, campaign_id, sequence_id, recipient_phone, message_type, content, \
     media_url, status, error_message, scheduled_at, sent_at, created_at, updated_at, recipient_name, \
     sequence_stepid, processing_worker_id, device_name";
const PLACEHOLDERS: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?), FROM_UNIXTIME(?), \
     FROM_UNIXTIME(?), ?, ?, ?, ?)";

impl Message {
    fn values(&self, out: &mut Vec<Value>) {
        let s = |v: &String| Value::from(v.as_str());
        let os = |v: &Option<String>| v.as_deref().map(Value::from).unwrap_or(Value::NULL);
        let ts = |v: &Option<i64>| v.map(Value::from).unwrap_or(Value::NULL);
        out.extend([
            s(&self.id),
            s(&self.user_id),
            s(&self.device_id),
            self.campaign_id.map(Value::from).unwrap_or(Value::NULL),
            os(&self.sequence_id),
            s(&self.recipient_phone),
            s(&self.message_type),
            s(&self.content),
            os(&self.media_url),
            s(&self.status),
            os(&self.error_message),
            ts(&self.scheduled_at),
            ts(&self.sent_at),
            ts(&self.created_at),
            ts(&self.created_at),
            s(&self.recipient_name),
            os(&self.sequence_stepid),
            os(&self.processing_worker_id),
            os(&self.device_name),
        ]);
    }
}

/// A deterministic UUID (v4 layout) drawn from the generator's random stream.
pub fn uuid_from(rng: &mut impl Rng) -> String {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid().hyphenated().to_string()
}

/// The users, devices, sequences and steps the messages refer to.
struct World {
    users: Vec<String>,
    /// (user index, device id, device name)
    devices: Vec<(usize, String, String)>,
    /// (user index, sequence id, step ids)
    sequences: Vec<(usize, String, Vec<String>)>,
}

impl World {
    fn new(rng: &mut ChaCha8Rng, rows: usize) -> World {
        let users: Vec<String> = (0..8).map(|_| uuid_from(rng)).collect();
        let devices = (0..24).map(|i| (i % users.len(), uuid_from(rng), format!("device-{i}"))).collect();
        let n_seq = (rows / 20_000).clamp(12, 200);
        let sequences =
            (0..n_seq).map(|i| (i % users.len(), uuid_from(rng), (0..7).map(|_| uuid_from(rng)).collect())).collect();
        World { users, devices, sequences }
    }
}

/// Streams `spec.rows` messages. The same spec always yields the same rows.
pub fn generate(spec: &Spec) -> impl Iterator<Item = Message> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let world = World::new(&mut rng, spec.rows);
    let spec = spec.clone();
    let mut pending: Vec<Message> = Vec::new();
    let mut produced = 0usize;
    let base: i64 = 1_748_736_000; // 2025-06-01T00:00:00Z
    std::iter::from_fn(move || {
        if produced >= spec.rows {
            return None;
        }
        while pending.is_empty() {
            pending = logical_message(&mut rng, &world, &spec, base);
            pending.reverse();
        }
        produced += 1;
        pending.pop()
    })
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    format!("601{:08}", rng.gen_range(0..100_000_000u32))
}

/// `60123456789` written the way people type it: `+60 12-345 6789`.
fn punctuated(p: &str) -> String {
    let (cc, rest) = p.split_at(2);
    let (a, rest) = rest.split_at(2);
    let (b, c) = rest.split_at(3);
    format!("+{cc} {a}-{b} {c}")
}

fn logical_message(rng: &mut ChaCha8Rng, w: &World, spec: &Spec, base: i64) -> Vec<Message> {
    let t = base + rng.gen_range(0..90 * 86_400);
    if rng.gen_bool(spec.campaign_fraction) {
        let (u, dev, name) = &w.devices[rng.gen_range(0..w.devices.len())];
        return vec![Message {
            id: uuid_from(rng),
            user_id: w.users[*u].clone(),
            device_id: dev.clone(),
            campaign_id: Some(rng.gen_range(1..500)),
            sequence_id: None,
            recipient_phone: phone(rng),
            message_type: "text".into(),
            content: "Campaign blast: 20% off this week".into(),
            media_url: None,
            status: if rng.gen_bool(0.8) { "sent" } else { "pending" }.into(),
            error_message: None,
            scheduled_at: Some(t),
            sent_at: Some(t + 5),
            created_at: Some(t),
            recipient_name: "Customer".into(),
            sequence_stepid: None,
            processing_worker_id: None,
            device_name: Some(name.clone()),
        }];
    }
    let (user, seq_id, steps) = &w.sequences[rng.gen_range(0..w.sequences.len())];
    let user_devices: Vec<&(usize, String, String)> = w.devices.iter().filter(|d| d.0 == *user).collect();
    let (_, dev, dev_name) = user_devices[rng.gen_range(0..user_devices.len())];
    let day = rng.gen_range(0..steps.len());
    let phone_no = phone(rng);
    let name = format!("Contact {}", rng.gen_range(0..100_000));
    let content = format!("Day {} of your programme: hello {name}!", day + 1);
    let make = |rng: &mut ChaCha8Rng, created: Option<i64>, status: &str, phone: &str| Message {
        id: uuid_from(rng),
        user_id: w.users[*user].clone(),
        device_id: dev.clone(),
        campaign_id: None,
        sequence_id: Some(seq_id.clone()),
        recipient_phone: phone.to_string(),
        message_type: if day % 3 == 2 { "image" } else { "text" }.into(),
        content: content.clone(),
        media_url: if day % 3 == 2 { Some(format!("https://cdn.example/m/{day}.jpg")) } else { None },
        status: status.into(),
        error_message: if status == "failed" { Some("device disconnected".into()) } else { None },
        scheduled_at: created,
        sent_at: if status == "sent" { created.map(|c| c + 30) } else { None },
        created_at: created,
        recipient_name: name.clone(),
        sequence_stepid: Some(steps[day].clone()),
        processing_worker_id: None,
        device_name: Some(dev_name.clone()),
    };
    let mut out = Vec::with_capacity(4);
    let first_null = rng.gen_bool(0.01);
    let status0 = if rng.gen_bool(0.85) { "sent" } else { "pending" };
    if !rng.gen_bool(spec.dup_fraction) {
        out.push(make(rng, if first_null { None } else { Some(t) }, status0, &phone_no));
    } else {
        let copies = rng.gen_range(2..=4);
        // How the copies' timestamps relate: the cases the original fix got wrong.
        let shape = rng.gen_range(0..10);
        let failed_then_sent = rng.gen_bool(0.15);
        for k in 0..copies {
            let created = match shape {
                0 | 1 => Some(t),             // all in the same second
                2 if k == copies - 1 => None, // one copy without a timestamp
                3 if k == 0 => None,          // the first copy without a timestamp
                4 if k > 0 => Some(t + 1),    // newer copies share a second
                _ => Some(t + k as i64 * rng.gen_range(1..120)),
            };
            // The first copy failed, or is still pending or queued, while the later ones
            // were sent: the original rule (keep the oldest) would keep the unsent copy.
            let status = if failed_then_sent {
                if k == 0 {
                    ["failed", "pending", "queued"][shape % 3]
                } else {
                    "sent"
                }
            } else if k == 0 {
                status0
            } else {
                ["sent", "pending", "queued", "failed", "processing"][rng.gen_range(0..5)]
            };
            out.push(make(rng, created, status, &phone_no));
        }
    }
    if rng.gen_bool(spec.near_dup_fraction) {
        let p = punctuated(&phone_no);
        out.push(make(rng, Some(t + 60), "pending", &p));
    }
    out
}

/// Creates the fixture tables in the connection's current database.
pub fn create_schema(conn: &mut Conn) -> Result<()> {
    for stmt in SCHEMA_SQL.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let stmt: String = stmt.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
        if stmt.trim().is_empty() {
            continue;
        }
        conn.query_drop(&stmt).with_context(|| format!("creating fixture schema: {stmt}"))?;
    }
    Ok(())
}

/// Inserts messages into `table` with multi-row statements, in the session time zone UTC.
pub fn insert(conn: &mut Conn, table: &Ident, rows: impl IntoIterator<Item = Message>) -> Result<usize> {
    const CHUNK: usize = 500;
    conn.query_drop("SET time_zone = '+00:00'")?;
    let full = format!("INSERT INTO {} ({COLUMNS}) VALUES {}", table.quoted(), vec![PLACEHOLDERS; CHUNK].join(", "));
    let full_stmt = conn.prep(&full)?;
    let mut buf: Vec<Value> = Vec::with_capacity(CHUNK * 19);
    let mut n_buf = 0;
    let mut total = 0;
    for m in rows {
        m.values(&mut buf);
        n_buf += 1;
        if n_buf == CHUNK {
            conn.exec_drop(&full_stmt, std::mem::take(&mut buf)).context("inserting sample messages")?;
            total += n_buf;
            n_buf = 0;
        }
    }
    if n_buf > 0 {
        let tail =
            format!("INSERT INTO {} ({COLUMNS}) VALUES {}", table.quoted(), vec![PLACEHOLDERS; n_buf].join(", "));
        conn.exec_drop(tail, buf).context("inserting sample messages")?;
        total += n_buf;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a: Vec<Message> = generate(&Spec::new(2_000, 7)).collect();
        let b: Vec<Message> = generate(&Spec::new(2_000, 7)).collect();
        assert_eq!(a.len(), 2_000);
        assert_eq!(a, b);
        assert!(a.iter().any(|m| m.sequence_stepid.is_none()));
        assert!(a.iter().any(|m| m.created_at.is_none()));
    }

    #[test]
    fn punctuation() {
        assert_eq!(punctuated("60123456789"), "+60 12-345 6789");
    }
}
