//! The one read-only pass that finds duplicate sequence messages, shared by `audit` and
//! `dedupe`. It streams the rows of every (step, device, phone digits) partition holding
//! more than one row, and hands the caller one `NearGroup` at a time, so memory is bounded
//! by the largest group, not by the table.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;

use crate::config::Ident;
use crate::db::Db;

/// One row of a duplicate or near-duplicate group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copy {
    pub id: String,
    pub recipient_phone: String,
    pub sequence_id: Option<String>,
    pub status: Option<String>,
    /// `created_at` as Unix seconds; `None` when NULL.
    pub created_ts: Option<i64>,
}

/// Rows sharing (sequence_stepid, recipient_phone, device_id) under the column collation.
/// `copies` is in survivor order: `copies[0]` is the row a dedupe keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExactGroup {
    pub sequence_stepid: String,
    pub device_id: String,
    pub recipient_phone: String,
    pub copies: Vec<Copy>,
}

impl ExactGroup {
    pub fn survivor(&self) -> &Copy {
        &self.copies[0]
    }

    pub fn victims(&self) -> &[Copy] {
        &self.copies[1..]
    }

    pub fn is_duplicate(&self) -> bool {
        self.copies.len() > 1
    }
}

/// All rows of one (step, device, phone digits) partition, split into exact groups.
/// More than one exact group means near-duplicates: phones that differ only in
/// punctuation or spacing, which the unique index will not catch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearGroup {
    pub groups: Vec<ExactGroup>,
}

/// The survivor rule: oldest `created_at` first, NULL counting as newest, ties broken by
/// the smallest `id` (compared as bytes). Deterministic, so a second dedupe deletes nothing.
pub fn survivor_order(a: &Copy, b: &Copy) -> std::cmp::Ordering {
    let key = |c: &Copy| (c.created_ts.is_none(), c.created_ts, c.id.as_bytes().to_vec());
    key(a).cmp(&key(b))
}

/// Splits a partition's rows into exact groups by the server's rank of the phone (equal
/// rank = equal under the collation) and puts each group in survivor order. Pure, for unit tests.
pub fn split_partition(rows: Vec<(u64, String, String, Copy)>) -> NearGroup {
    // (phone rank, step, device, copy); step and device are equal within a partition.
    let mut groups: Vec<(u64, ExactGroup)> = Vec::new();
    for (rank, step, device, copy) in rows {
        match groups.iter_mut().find(|(r, _)| *r == rank) {
            Some((_, g)) => g.copies.push(copy),
            None => groups.push((
                rank,
                ExactGroup {
                    sequence_stepid: step,
                    device_id: device,
                    recipient_phone: copy.recipient_phone.clone(),
                    copies: vec![copy],
                },
            )),
        }
    }
    let mut groups: Vec<ExactGroup> = groups.into_iter().map(|(_, g)| g).collect();
    for g in &mut groups {
        g.copies.sort_by(survivor_order);
    }
    NearGroup { groups }
}

/// What the pass saw in total.
#[derive(Debug, Clone, Default)]
pub struct ScanTotals {
    pub sequence_messages: u64,
}

/// Runs the pass. `keys_only` reads only the key columns (right when the unique index
/// exists: then no exact copies can exist and the index covers the scan).
/// `on_row` is called for each streamed row (for progress), `on_group` for each partition.
pub fn scan(
    db: &mut Db,
    table: &Ident,
    keys_only: bool,
    mut on_row: impl FnMut(u64),
    mut on_group: impl FnMut(NearGroup) -> Result<()>,
) -> Result<ScanTotals> {
    db.conn.query_drop(crate::sql::SESSION_TUNING).context("cannot set session limits for the scan")?;
    let template = if keys_only { crate::sql::SCAN_KEYS } else { crate::sql::SCAN };
    let query = crate::sql::render(template, &[("table", table)]);
    let mut totals = ScanTotals::default();
    let mut current: Vec<(u64, String, String, Copy)> = Vec::new();
    // The partition key as the client sees it: (step, device) plus the digits of the phone.
    let mut current_key: Option<(String, String, String)> = None;
    let mut streamed = 0u64;
    let result = db
        .conn
        .query_iter(query)
        .with_context(|| format!("scanning {}.{} for duplicate sequence messages", db.database, table))?;
    for row in result {
        let row = row.with_context(|| format!("reading the scan of {}", table))?;
        #[allow(clippy::type_complexity)]
        let (id, step, device, phone, sequence_id, status, created_ts, total, rank): (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            u64,
            u64,
        ) = mysql::from_row_opt(row).context("unexpected row shape in the scan")?;
        totals.sequence_messages = total;
        streamed += 1;
        on_row(streamed);
        let key = (step.to_lowercase(), device.to_lowercase(), digits(&phone));
        if current_key.as_ref() != Some(&key) && !current.is_empty() {
            on_group(split_partition(std::mem::take(&mut current)))?;
        }
        current_key = Some(key);
        current.push((rank, step, device, Copy { id, recipient_phone: phone, sequence_id, status, created_ts }));
    }
    if !current.is_empty() {
        on_group(split_partition(current))?;
    }
    if streamed == 0 {
        let count = crate::sql::render(crate::sql::COUNT_SEQUENCE_MESSAGES, &[("table", table)]);
        totals.sequence_messages = db.conn.query_first(count)?.unwrap_or(0);
    }
    Ok(totals)
}

/// The phone with the punctuation the scan strips (`scan.sql` must agree), lowercased.
/// Used only to notice where one partition ends and the next starts.
pub fn digits(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '+' | '(' | ')' | '.' | '/'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(id: &str, phone: &str, ts: Option<i64>) -> Copy {
        Copy { id: id.into(), recipient_phone: phone.into(), sequence_id: None, status: None, created_ts: ts }
    }

    #[test]
    fn survivor_is_oldest_then_smallest_id_null_last() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("c", "60", None)),
            (1, "s".into(), "d".into(), copy("b", "60", Some(10))),
            (1, "s".into(), "d".into(), copy("a", "60", Some(10))),
            (1, "s".into(), "d".into(), copy("0", "60", Some(11))),
        ];
        let g = split_partition(rows);
        assert_eq!(g.groups.len(), 1);
        let ids: Vec<&str> = g.groups[0].copies.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "0", "c"]);
        assert_eq!(g.groups[0].survivor().id, "a");
    }

    #[test]
    fn all_null_timestamps_fall_back_to_id() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("f", "60", None)),
            (1, "s".into(), "d".into(), copy("e", "60", None)),
        ];
        assert_eq!(split_partition(rows).groups[0].survivor().id, "e");
    }

    #[test]
    fn splits_near_duplicates_by_rank() {
        let rows = vec![
            (1, "s".into(), "d".into(), copy("a", "60123", Some(1))),
            (2, "s".into(), "d".into(), copy("b", "+60 123", Some(1))),
            (1, "s".into(), "d".into(), copy("c", "60123 ", Some(2))),
        ];
        let g = split_partition(rows);
        assert_eq!(g.groups.len(), 2);
        assert_eq!(g.groups[0].copies.len(), 2);
        assert!(!g.groups[1].is_duplicate());
    }

    #[test]
    fn digits_strips_punctuation() {
        assert_eq!(digits("+60 12-345 6789"), "60123456789");
        assert_eq!(digits("(60) 1.2/3"), "60123");
    }
}
