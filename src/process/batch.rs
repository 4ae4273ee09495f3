//! One batch of a pass: read the contacts with everything the rules need in one query,
//! classify them with `plan`, and apply the result in one transaction (or, for a dry run,
//! only count it). The transaction is a `txn::BatchTx`: on Galera its statements (the
//! lease's renewal, the contact updates, the message inserts, the log inserts) are plain
//! text and it is checked to be still open before each later statement and COMMIT, so a
//! batch cannot half-commit there either.
use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};

use crate::lease::Lease;
use crate::sql;
use crate::txn::{BatchTx, Statements};

use super::guards::Tables;
use super::plan::{plan, Candidate, Decision, DeviceRow, StepRow};
use super::Counts;

fn text(row: &mut Row, i: usize) -> Option<String> {
    row.take::<Option<String>, _>(i).flatten()
}

/// Reads one batch: one candidate per contact (the joins are all primary-key lookups, so a
/// contact yields one row; the check on repeats only guards the invariant).
pub(super) fn read(conn: &mut Conn, stmt: &str, after: &str, last: &str) -> Result<Vec<Candidate>> {
    let rows: Vec<Row> = conn.exec(stmt, (after, last)).context("cannot read a batch of due contacts")?;
    let mut out: Vec<Candidate> = Vec::with_capacity(rows.len());
    for mut r in rows {
        let contact_id = text(&mut r, 0).unwrap_or_default();
        if out.last().map(|c| c.contact_id == contact_id).unwrap_or(false) {
            continue;
        }
        let step_id = text(&mut r, 7);
        let device_id = text(&mut r, 13);
        out.push(Candidate {
            contact_id,
            sequence_id: text(&mut r, 1).unwrap_or_default(),
            phone: text(&mut r, 2).unwrap_or_default(),
            name: text(&mut r, 3),
            current_step: r.take::<Option<i64>, _>(4).flatten().unwrap_or(0),
            user_id: text(&mut r, 5).unwrap_or_default(),
            total_days: r.take::<Option<i64>, _>(6).flatten(),
            step: step_id.map(|id| StepRow {
                id,
                message_type: text(&mut r, 8).unwrap_or_default(),
                content: text(&mut r, 9),
                media_url: text(&mut r, 10),
            }),
            lead_device_id: {
                let lead_id = r.take::<Option<i64>, _>(11).flatten();
                lead_id.and(text(&mut r, 12))
            },
            device: device_id.map(|id| DeviceRow {
                id,
                user_id: text(&mut r, 14).unwrap_or_default(),
                status: text(&mut r, 15),
            }),
        });
    }
    Ok(out)
}

/// The unique key of a message.
type Key = (String, String, String);

fn key(c: &Candidate, device_id: &str) -> Key {
    let step = c.step.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    (step.to_lowercase(), c.phone.to_lowercase(), device_id.to_lowercase())
}

/// A batch's lookup of existing messages by key: `template` with `{step_marks}` and
/// `{phone_marks}` filled for every step and every phone of `queue` (a superset of its keys;
/// the caller matches whole keys), and the values to bind.
fn by_keys(t: &Tables, template: &str, queue: &[(&Candidate, String)]) -> (String, Vec<Value>) {
    let steps: Vec<String> =
        queue.iter().map(|(c, _)| c.step.as_ref().unwrap().id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let phones: Vec<String> = queue.iter().map(|(c, _)| c.phone.clone()).collect::<HashSet<_>>().into_iter().collect();
    let stmt = sql::repeat(
        &sql::repeat(&t.render(template), "step_marks", "?", steps.len()),
        "phone_marks",
        "?",
        phones.len(),
    );
    (stmt, steps.into_iter().chain(phones).map(Value::from).collect())
}

/// A message's key as read back from the table, compared as `key` compares.
fn row_key(step: Option<String>, phone: Option<String>, device: Option<String>) -> Key {
    (
        step.unwrap_or_default().to_lowercase(),
        phone.unwrap_or_default().to_lowercase(),
        device.unwrap_or_default().to_lowercase(),
    )
}

/// A message's key and status, as `PROCESS_EXISTING` reads them.
type KeyStatus = (Option<String>, Option<String>, Option<String>, Option<String>);

/// Keys of `queue` that already exist in the messages table (one query, in the batch's
/// transaction).
fn existing_keys(tx: &mut BatchTx<'_>, t: &Tables, queue: &[(&Candidate, String)]) -> Result<HashSet<Key>> {
    if queue.is_empty() {
        return Ok(HashSet::new());
    }
    let (stmt, params) = by_keys(t, sql::PROCESS_EXISTING, queue);
    let rows: Vec<KeyStatus> = tx.read(&stmt, params).context("cannot look up existing messages")?;
    Ok(existing(rows).into_keys().collect())
}

/// The existing messages `rows`, by key, with whether that copy is `failed`.
fn existing(rows: Vec<KeyStatus>) -> HashMap<Key, bool> {
    let mut out: HashMap<Key, bool> = HashMap::new();
    for (s, p, d, status) in rows {
        let k = row_key(s, p, d);
        let failed = status.is_some_and(|v| v.eq_ignore_ascii_case("failed"));
        // Without the unique index a key may have several copies: failed only if all are.
        let e = out.entry(k).or_insert(failed);
        *e = *e && failed;
    }
    out
}

/// Splits a batch by decision, counting the ones that change nothing.
fn classify<'a>(
    candidates: &'a [Candidate],
    counts: &mut Counts,
) -> (Vec<&'a Candidate>, Vec<(&'a Candidate, String)>) {
    let mut complete = Vec::new();
    let mut queue = Vec::new();
    for c in candidates {
        match plan(c) {
            Decision::Complete => complete.push(c),
            Decision::NoStep => counts.no_step += 1,
            Decision::NoLead => counts.no_lead += 1,
            Decision::DeviceOffline => counts.device_offline += 1,
            Decision::Queue { device_id } => queue.push((c, device_id)),
        }
    }
    (complete, queue)
}

/// `--dry-run`: what the batch would do, without writing.
pub(super) fn dry_run(conn: &mut Conn, t: &Tables, candidates: &[Candidate]) -> Result<Counts> {
    let mut counts = Counts::default();
    let (complete, queue) = classify(candidates, &mut counts);
    counts.completed = complete.len() as u64;
    let found = if queue.is_empty() {
        HashMap::new()
    } else {
        let (stmt, params) = by_keys(t, sql::PROCESS_EXISTING, &queue);
        existing(conn.exec(stmt, params).context("cannot look up existing messages")?)
    };
    let mut seen: HashSet<Key> = HashSet::new();
    for (c, device_id) in &queue {
        let k = key(c, device_id);
        let first = seen.insert(k.clone());
        match found.get(&k) {
            // (The re-queue limit is applied by the real pass, under its locks.)
            Some(true) if first => counts.requeued += 1,
            None if first => counts.queued += 1,
            _ => counts.already_queued += 1,
        }
    }
    Ok(counts)
}

/// One batch in one transaction: move the contacts (advance or complete), queue their
/// messages, write log rows, commit. A crash at any point leaves all or nothing.
///
/// The lease's fenced renewal is the transaction's first statement: a run that lost its
/// lease (expired, or claimed by another run) commits nothing (`Lease::renew_in`). A batch
/// with nothing to write commits the renewal alone.
///
/// The statements are sent as `statements` says (`txn`: plain text on Galera, the
/// transaction checked to be still open before each later statement and COMMIT, a lost
/// one retried like a deadlock).
///
/// The guarded updates come next and are the batch's locks: each changes only contacts still
/// active, due and at the step that was read. When they change every contact asked for (the
/// usual case), nothing moved since the read and the batch goes on in the same transaction;
/// no separate locking read is needed. Otherwise the transaction is rolled back and the batch
/// redone after locking its contacts and keeping those unchanged (`apply_after_lock`).
pub(super) fn apply(
    conn: &mut Conn,
    t: &Tables,
    candidates: &[Candidate],
    step_secs: u64,
    has_index: bool,
    lease: &Lease,
    statements: Statements,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let (complete, queue) = classify(candidates, &mut counts);
    let mut tx = BatchTx::start(conn, statements)?;
    lease.renew_in(&mut tx)?;
    if complete.is_empty() && queue.is_empty() {
        tx.commit()?;
        return Ok(counts);
    }
    let moved = move_contacts(&mut tx, t, &complete, &queue, step_secs)?;
    if moved != (complete.len() + queue.len()) as u64 {
        // On Galera a transaction aborted by another node's write would also change fewer
        // rows than asked: that is a lost transaction (retried), not a changed contact.
        tx.check_open()?;
        tx.rollback()?;
        log::debug!(
            "{} of {} contacts changed since the batch's read; locking them",
            moved,
            complete.len() + queue.len()
        );
        return apply_after_lock(conn, t, complete, queue, step_secs, has_index, lease, statements, counts);
    }
    finish(tx, t, &complete, &queue, has_index, counts)
}

/// The batch again, after another writer changed some of its contacts: lock them, keep those
/// still due at the step that was read (the others count as `changed`, left for the next
/// pass), and apply the rest. Under the locks the guarded updates must match exactly.
#[allow(clippy::too_many_arguments)]
fn apply_after_lock(
    conn: &mut Conn,
    t: &Tables,
    complete: Vec<&Candidate>,
    queue: Vec<(&Candidate, String)>,
    step_secs: u64,
    has_index: bool,
    lease: &Lease,
    statements: Statements,
    mut counts: Counts,
) -> Result<Counts> {
    let mut tx = BatchTx::start(conn, statements)?;
    lease.renew_in(&mut tx)?;
    let ids: Vec<&str> = complete
        .iter()
        .map(|c| c.contact_id.as_str())
        .chain(queue.iter().map(|(c, _)| c.contact_id.as_str()))
        .collect();
    let stmt = sql::repeat(&t.render(sql::PROCESS_LOCK_CONTACTS), "ids", "?", ids.len());
    let params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
    let locked: Vec<(String, i64, Option<i64>)> = tx.read(&stmt, params).context("cannot lock the batch's contacts")?;
    let current: HashMap<String, (i64, bool)> =
        locked.into_iter().map(|(id, step, due)| (id, (step, due == Some(1)))).collect();
    let unchanged = |c: &Candidate| current.get(&c.contact_id) == Some(&(c.current_step, true));
    let complete: Vec<&Candidate> = complete.into_iter().filter(|c| unchanged(c)).collect();
    let queue: Vec<(&Candidate, String)> = queue.into_iter().filter(|(c, _)| unchanged(c)).collect();
    counts.changed = (ids.len() - complete.len() - queue.len()) as u64;
    let wanted = (complete.len() + queue.len()) as u64;
    let moved = move_contacts(&mut tx, t, &complete, &queue, step_secs)?;
    if moved != wanted {
        return Err(tx.mismatch(format!("moving {wanted} locked contacts changed {moved} rows")));
    }
    finish(tx, t, &complete, &queue, has_index, counts)
}

/// Groups contacts by the step they were read at, for the guarded updates.
fn by_step<'a>(contacts: impl Iterator<Item = &'a Candidate>) -> BTreeMap<i64, Vec<&'a str>> {
    let mut m: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for c in contacts {
        m.entry(c.current_step).or_default().push(c.contact_id.as_str());
    }
    m
}

/// The guarded updates: advance every contact whose message is to be queued (queued now or
/// already there), complete those past their last day. Returns how many rows changed.
fn move_contacts(
    tx: &mut BatchTx<'_>,
    t: &Tables,
    complete: &[&Candidate],
    queue: &[(&Candidate, String)],
    step_secs: u64,
) -> Result<u64> {
    let mut moved = 0;
    for (step, ids) in &by_step(queue.iter().map(|(c, _)| *c)) {
        let stmt = sql::repeat(&t.render(sql::PROCESS_ADVANCE), "ids", "?", ids.len());
        let mut params: Vec<Value> = vec![Value::from(step + 1), Value::from(step_secs)];
        params.extend(ids.iter().map(|id| Value::from(*id)));
        params.push(Value::from(*step));
        moved += tx.write(&stmt, params).context("cannot advance contacts")?;
    }
    for (step, ids) in &by_step(complete.iter().copied()) {
        let stmt = sql::repeat(&t.render(sql::PROCESS_COMPLETE), "ids", "?", ids.len());
        let mut params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
        params.push(Value::from(*step));
        moved += tx.write(&stmt, params).context("cannot complete contacts")?;
    }
    Ok(moved)
}

/// What became of the existing copies of a batch's keys that were `failed`.
#[derive(Default)]
struct Requeue<'a> {
    /// Put back to `pending` (contact, message id).
    requeued: Vec<(&'a Candidate, String)>,
    /// Re-queued `MAX_REQUEUES` times already: left failed.
    at_limit: Vec<(&'a Candidate, String)>,
}

/// Puts the `failed` copies among `existed` back to `pending`, each at most `MAX_REQUEUES`
/// times (counted by its `requeued` log rows), under the row locks of the batch.
fn requeue_failed<'a>(tx: &mut BatchTx<'_>, t: &Tables, existed: &[(&'a Candidate, &str)]) -> Result<Requeue<'a>> {
    let mut out = Requeue::default();
    if existed.is_empty() {
        return Ok(out);
    }
    let queue: Vec<(&Candidate, String)> = existed.iter().map(|(c, d)| (*c, d.to_string())).collect();
    let (stmt, params) = by_keys(t, sql::PROCESS_FAILED_COPIES, &queue);
    type Copy = (String, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Copy> = tx.read(&stmt, params).context("cannot look up failed copies")?;
    // Per key: the smallest failed id, unless some copy of the key is not failed (a pending
    // or sent copy means the message is already on its way: nothing to re-queue).
    let mut copies: HashMap<Key, Option<String>> = HashMap::new();
    for (id, s, p, d, status) in rows {
        let k = row_key(s, p, d);
        let failed = status.is_some_and(|v| v.eq_ignore_ascii_case("failed"));
        match copies.get_mut(&k) {
            None => {
                copies.insert(k, failed.then_some(id));
            }
            Some(slot) => {
                *slot = match (slot.take(), failed) {
                    (Some(prev), true) => Some(prev.min(id)),
                    _ => None,
                }
            }
        }
    }
    let failed: HashMap<Key, String> = copies.into_iter().filter_map(|(k, id)| id.map(|id| (k, id))).collect();
    let hits: Vec<(&Candidate, String)> =
        existed.iter().filter_map(|(c, d)| failed.get(&key(c, d)).map(|id| (*c, id.clone()))).collect();
    if hits.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = hits.iter().map(|(_, id)| id.as_str()).collect();
    let stmt = sql::repeat(&t.render(sql::PROCESS_REQUEUE_COUNTS), "ids", "?", ids.len());
    let params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
    let before: HashMap<String, u64> =
        tx.read::<(String, u64)>(&stmt, params).context("cannot count earlier re-queues")?.into_iter().collect();
    for (c, id) in hits {
        if before.get(&id).copied().unwrap_or(0) >= super::MAX_REQUEUES {
            out.at_limit.push((c, id));
        } else {
            out.requeued.push((c, id));
        }
    }
    if !out.requeued.is_empty() {
        let ids: Vec<&str> = out.requeued.iter().map(|(_, id)| id.as_str()).collect();
        let stmt = sql::repeat(&t.render(sql::PROCESS_REQUEUE), "ids", "?", ids.len());
        let params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
        tx.write(&stmt, params).context("cannot re-queue failed messages")?;
    }
    Ok(out)
}

/// With the contacts moved: queue the messages, write a log row per message queued, commit.
fn finish(
    mut tx: BatchTx<'_>,
    t: &Tables,
    complete: &[&Candidate],
    queue: &[(&Candidate, String)],
    has_index: bool,
    mut counts: Counts,
) -> Result<Counts> {
    // Without the unique index nothing makes the insert atomic: look first (the lease
    // is the only guard against a concurrent writer).
    let in_table = if has_index { HashSet::new() } else { existing_keys(&mut tx, t, queue)? };
    let mut seen: HashSet<Key> = HashSet::new();
    let mut to_insert: Vec<(&Candidate, &str, String)> = Vec::new();
    let mut already: u64 = 0;
    // Contacts whose key met a message already in the table: its copy may be `failed`.
    let mut existed: Vec<(&Candidate, &str)> = Vec::new();
    for (c, device_id) in queue {
        let k = key(c, device_id);
        if in_table.contains(&k) {
            if seen.insert(k) {
                existed.push((c, device_id.as_str()));
            } else {
                already += 1;
            }
        } else if seen.insert(k) {
            to_insert.push((c, device_id.as_str(), uuid::Uuid::new_v4().to_string()));
        } else {
            // A key twice in one batch (a phone enrolled twice in a sequence): the first queues it.
            already += 1;
        }
    }
    let mut queued: Vec<(&Candidate, String)> = Vec::new();
    if !to_insert.is_empty() {
        let stmt = sql::repeat(
            &t.render(sql::PROCESS_INSERT_MESSAGES),
            "rows",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NOW(), NOW())",
            to_insert.len(),
        );
        let mut params: Vec<Value> = Vec::with_capacity(to_insert.len() * 10);
        for (c, device_id, id) in &to_insert {
            let step = c.step.as_ref().unwrap();
            params.extend([
                Value::from(id.as_str()),
                Value::from(c.user_id.as_str()),
                Value::from(*device_id),
                Value::from(c.sequence_id.as_str()),
                Value::from(step.id.as_str()),
                Value::from(c.phone.as_str()),
                c.name.as_deref().map(Value::from).unwrap_or(Value::NULL),
                Value::from(step.message_type.as_str()),
                step.content.as_deref().map(Value::from).unwrap_or(Value::NULL),
                step.media_url.as_deref().map(Value::from).unwrap_or(Value::NULL),
            ]);
        }
        let inserted =
            tx.write(&stmt, params).with_context(|| format!("cannot insert messages into {}", t.messages))?;
        // A new row counts 1, a key that existed 0 (its no-op update changes nothing; the
        // connection does not ask for found rows). All new: no need to ask which.
        let present: Option<HashSet<String>> = if inserted == to_insert.len() as u64 {
            None
        } else {
            let new_ids: Vec<Value> = to_insert.iter().map(|(_, _, id)| Value::from(id.as_str())).collect();
            let stmt = sql::repeat(&t.render(sql::PROCESS_INSERTED), "ids", "?", new_ids.len());
            Some(
                tx.read::<String>(&stmt, new_ids)
                    .context("cannot read back the queued messages")?
                    .into_iter()
                    .collect(),
            )
        };
        for (c, device_id, id) in to_insert {
            if present.as_ref().is_none_or(|p| p.contains(&id)) {
                queued.push((c, id));
            } else {
                existed.push((c, device_id));
            }
        }
    }
    let requeue = requeue_failed(&mut tx, t, &existed)?;
    already += existed.len() as u64 - requeue.requeued.len() as u64 - requeue.at_limit.len() as u64;
    let mut logs: Vec<(&Candidate, &str, &str)> = queued.iter().map(|(c, id)| (*c, id.as_str(), "queued")).collect();
    logs.extend(requeue.requeued.iter().map(|(c, id)| (*c, id.as_str(), "requeued")));
    logs.extend(requeue.at_limit.iter().map(|(c, id)| (*c, id.as_str(), "requeue_limit")));
    if !logs.is_empty() {
        let stmt = sql::repeat(&t.render(sql::PROCESS_INSERT_LOGS), "rows", "(?, ?, ?, ?, ?, ?, ?)", logs.len());
        let mut params: Vec<Value> = Vec::with_capacity(logs.len() * 7);
        for (c, message_id, status) in &logs {
            params.extend([
                Value::from(uuid::Uuid::new_v4().to_string()),
                Value::from(c.sequence_id.as_str()),
                Value::from(c.contact_id.as_str()),
                Value::from(c.step.as_ref().unwrap().id.as_str()),
                Value::from(c.next_step()),
                Value::from(*status),
                Value::from(*message_id),
            ]);
        }
        tx.write(&stmt, params).context("cannot write sequence_logs rows")?;
    }
    tx.commit()?;
    counts.queued = queued.len() as u64;
    counts.requeued = requeue.requeued.len() as u64;
    counts.requeue_limit = requeue.at_limit.len() as u64;
    counts.already_queued = already;
    counts.completed = complete.len() as u64;
    Ok(counts)
}
