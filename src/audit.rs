//! `seqfix audit`: what duplicate sequence messages the table holds, read-only.
//! One pass (`scan`), folded into counts and bounded example lists by `Tally`, a pure
//! accumulator that unit tests drive with plain values.
use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::db::Db;
use crate::empty_steps::EmptySteps;
use crate::progress::Progress;
use crate::scan::{ExactGroup, NearGroup};
use crate::schema;

/// How many examples each warning keeps.
pub const EXAMPLES: usize = 10;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyCount {
    pub key: String,
    pub rows: u64,
}

/// A group of near-duplicates: one step and device, phones that differ only in punctuation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NearExample {
    pub sequence_stepid: String,
    pub device_id: String,
    pub phones: Vec<String>,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Warnings {
    /// Groups whose kept (oldest) row is `failed` while a newer copy is `sent`.
    pub failed_survivor_groups: u64,
    pub failed_survivor_examples: Vec<ExactGroup>,
    /// Rows of duplicate groups whose `created_at` is NULL.
    pub null_created_rows: u64,
    pub null_created_groups: u64,
    /// Groups in which two or more copies share the same `created_at`.
    pub equal_created_groups: u64,
    /// Groups the original `DELETE ... JOIN ... created_at >` fix would leave with more than
    /// one row (copies tied at the oldest second or without a timestamp), and their surplus.
    pub left_by_original_fix_groups: u64,
    pub left_by_original_fix_rows: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct NearDuplicates {
    pub groups: u64,
    pub rows: u64,
    pub examples: Vec<NearExample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub database: String,
    pub table: String,
    pub server: String,
    pub sequence_messages: u64,
    pub duplicate_groups: u64,
    pub surplus_rows: u64,
    pub unique_index: bool,
    pub unique_index_name: Option<String>,
    pub by_status: Vec<KeyCount>,
    pub by_sequence: Vec<KeyCount>,
    pub by_device: Vec<KeyCount>,
    pub by_day: Vec<KeyCount>,
    pub top_groups: Vec<ExactGroup>,
    pub warnings: Warnings,
    pub near_duplicates: NearDuplicates,
    /// Rows whose step is the empty string: no sequence, never duplicates here, but the
    /// unique index would reject those sharing phone and device.
    pub empty_steps: EmptySteps,
}

impl AuditReport {
    /// Masks every phone (`mask::phone`): for `--mask-phones`.
    pub fn mask_phones(&mut self) {
        let group = |g: &mut ExactGroup| {
            g.recipient_phone = crate::mask::phone(&g.recipient_phone);
            for c in &mut g.copies {
                c.recipient_phone = crate::mask::phone(&c.recipient_phone);
            }
        };
        self.top_groups.iter_mut().for_each(group);
        self.warnings.failed_survivor_examples.iter_mut().for_each(group);
        for e in &mut self.near_duplicates.examples {
            e.phones.iter_mut().for_each(|p| *p = crate::mask::phone(p));
        }
        for e in &mut self.empty_steps.examples {
            e.recipient_phone = crate::mask::phone(&e.recipient_phone);
        }
    }
}

/// Folds groups into the report's figures, keeping only bounded lists.
#[derive(Debug, Default)]
pub struct Tally {
    pub duplicate_groups: u64,
    pub surplus_rows: u64,
    by_status: BTreeMap<String, u64>,
    by_sequence: BTreeMap<String, u64>,
    by_device: BTreeMap<String, u64>,
    by_day: BTreeMap<String, u64>,
    top: Vec<ExactGroup>,
    top_n: usize,
    pub warnings: Warnings,
    pub near: NearDuplicates,
}

/// The UTC day of a Unix timestamp, as YYYY-MM-DD.
pub fn utc_day(ts: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

impl Tally {
    pub fn new(top_n: usize) -> Tally {
        Tally { top_n, ..Tally::default() }
    }

    pub fn add(&mut self, near: &NearGroup) {
        if near.groups.len() > 1 {
            self.near.groups += 1;
            let rows: u64 = near.groups.iter().map(|g| g.copies.len() as u64).sum();
            self.near.rows += rows;
            if self.near.examples.len() < EXAMPLES {
                self.near.examples.push(NearExample {
                    sequence_stepid: near.groups[0].sequence_stepid.clone(),
                    device_id: near.groups[0].device_id.clone(),
                    phones: near.groups.iter().map(|g| g.recipient_phone.clone()).collect(),
                    rows,
                });
            }
        }
        for g in near.groups.iter().filter(|g| g.is_duplicate()) {
            self.add_duplicate(g);
        }
    }

    fn add_duplicate(&mut self, g: &ExactGroup) {
        self.duplicate_groups += 1;
        self.surplus_rows += g.victims().len() as u64;
        for v in g.victims() {
            *self.by_status.entry(v.status.clone().unwrap_or_else(|| "(null)".into())).or_default() += 1;
            *self.by_sequence.entry(v.sequence_id.clone().unwrap_or_else(|| "(null)".into())).or_default() += 1;
            *self.by_device.entry(g.device_id.clone()).or_default() += 1;
            *self.by_day.entry(v.created_ts.map(utc_day).unwrap_or_else(|| "(no created_at)".into())).or_default() += 1;
        }
        let w = &mut self.warnings;
        let survivor = g.survivor();
        if survivor.status.as_deref() == Some("failed")
            && g.victims().iter().any(|v| v.status.as_deref() == Some("sent"))
        {
            w.failed_survivor_groups += 1;
            if w.failed_survivor_examples.len() < EXAMPLES {
                w.failed_survivor_examples.push(g.clone());
            }
        }
        let nulls = g.copies.iter().filter(|c| c.created_ts.is_none()).count() as u64;
        w.null_created_rows += nulls;
        if nulls > 0 {
            w.null_created_groups += 1;
        }
        let mut stamps: Vec<i64> = g.copies.iter().filter_map(|c| c.created_ts).collect();
        stamps.sort_unstable();
        if stamps.windows(2).any(|p| p[0] == p[1]) {
            w.equal_created_groups += 1;
        }
        // The original fix deletes a row only when some copy is strictly older; rows
        // without a timestamp, and every row at the oldest second, stay.
        let oldest = stamps.first().copied();
        let stay = nulls + stamps.iter().filter(|&&s| Some(s) == oldest).count() as u64;
        if stay > 1 {
            w.left_by_original_fix_groups += 1;
            w.left_by_original_fix_rows += stay - 1;
        }
        self.keep_top(g);
    }

    fn keep_top(&mut self, g: &ExactGroup) {
        let rank = |g: &ExactGroup| {
            (
                std::cmp::Reverse(g.copies.len()),
                g.sequence_stepid.clone(),
                g.recipient_phone.clone(),
                g.device_id.clone(),
            )
        };
        if self.top.len() < self.top_n || self.top.last().map(|last| rank(g) < rank(last)).unwrap_or(true) {
            let pos = self.top.partition_point(|x| rank(x) <= rank(g));
            self.top.insert(pos, g.clone());
            self.top.truncate(self.top_n);
        }
    }

    fn sorted(map: BTreeMap<String, u64>) -> Vec<KeyCount> {
        let mut v: Vec<KeyCount> = map.into_iter().map(|(key, rows)| KeyCount { key, rows }).collect();
        v.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.key.cmp(&b.key)));
        v
    }

    pub fn top_groups(&self) -> &[ExactGroup] {
        &self.top
    }

    pub fn finish(self, head: ReportHead) -> AuditReport {
        let mut by_day: Vec<KeyCount> = self.by_day.into_iter().map(|(key, rows)| KeyCount { key, rows }).collect();
        by_day.sort_by(|a, b| a.key.cmp(&b.key));
        AuditReport {
            database: head.database,
            table: head.table,
            server: head.server,
            sequence_messages: head.sequence_messages,
            duplicate_groups: self.duplicate_groups,
            surplus_rows: self.surplus_rows,
            unique_index: head.unique_index_name.is_some(),
            unique_index_name: head.unique_index_name,
            by_status: Self::sorted(self.by_status),
            by_sequence: Self::sorted(self.by_sequence),
            by_device: Self::sorted(self.by_device),
            by_day,
            top_groups: self.top,
            warnings: self.warnings,
            near_duplicates: self.near,
            empty_steps: EmptySteps::default(),
        }
    }
}

/// The parts of the report that come from the server rather than the groups.
pub struct ReportHead {
    pub database: String,
    pub table: String,
    pub server: String,
    pub sequence_messages: u64,
    pub unique_index_name: Option<String>,
}

/// Runs the audit: schema check, one scan, the tally.
pub fn run(db: &mut Db, cfg: &Config, top: usize) -> Result<AuditReport> {
    let info = schema::check(db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    let unique_index_name = info.unique_key_index().map(|i| i.name.clone());
    let progress =
        Progress::spinner(cfg.progress, &crate::scan::progress_message(info.estimated_rows, &cfg.table.to_string()));
    let mut tally = Tally::new(top);
    let totals = crate::scan::scan(
        db,
        &info,
        unique_index_name.is_some(),
        |n| {
            if n % 4096 == 0 {
                progress.set(n)
            }
        },
        |group| {
            tally.add(&group);
            Ok(())
        },
    )?;
    progress.finish();
    let empty_steps = match totals.empty_steps {
        0 => EmptySteps::default(),
        rows => crate::empty_steps::collisions(db, &cfg.table, Some(rows))?,
    };
    let mut report = tally.finish(ReportHead {
        database: db.database.clone(),
        table: cfg.table.to_string(),
        server: db.server.version.clone(),
        sequence_messages: totals.sequence_messages,
        unique_index_name,
    });
    report.empty_steps = empty_steps;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Copy;

    fn group(step: &str, copies: &[(&str, Option<i64>, &str)]) -> ExactGroup {
        ExactGroup {
            sequence_stepid: step.into(),
            device_id: "dev".into(),
            recipient_phone: "60123".into(),
            copies: copies
                .iter()
                .map(|(id, ts, st)| Copy {
                    id: id.to_string(),
                    recipient_phone: "60123".into(),
                    sequence_id: Some("seq".into()),
                    status: Some(st.to_string()),
                    created_ts: *ts,
                })
                .collect(),
        }
    }

    #[test]
    fn counts_and_warnings() {
        let mut t = Tally::new(2);
        // failed survivor with a sent copy; strict order → the original fix handles it
        t.add(&NearGroup { groups: vec![group("s1", &[("a", Some(1), "failed"), ("b", Some(2), "sent")])] });
        // equal timestamps → left behind by the original fix (3 rows stay, 2 surplus)
        t.add(&NearGroup {
            groups: vec![group("s2", &[("c", Some(5), "sent"), ("d", Some(5), "pending"), ("e", Some(5), "sent")])],
        });
        // a NULL copy → left behind (2 stay)
        t.add(&NearGroup { groups: vec![group("s3", &[("f", Some(7), "sent"), ("g", None, "pending")])] });
        // a single row: not a duplicate
        t.add(&NearGroup { groups: vec![group("s4", &[("h", Some(7), "sent")])] });
        assert_eq!(t.duplicate_groups, 3);
        assert_eq!(t.surplus_rows, 4);
        assert_eq!(t.warnings.failed_survivor_groups, 1);
        assert_eq!(t.warnings.null_created_rows, 1);
        assert_eq!(t.warnings.equal_created_groups, 1);
        assert_eq!(t.warnings.left_by_original_fix_groups, 2);
        assert_eq!(t.warnings.left_by_original_fix_rows, 3);
        let top: Vec<&str> = t.top_groups().iter().map(|g| g.sequence_stepid.as_str()).collect();
        assert_eq!(top, ["s2", "s1"]);
        let r = t.finish(ReportHead {
            database: "d".into(),
            table: "t".into(),
            server: "v".into(),
            sequence_messages: 9,
            unique_index_name: None,
        });
        assert_eq!(
            r.by_status,
            vec![KeyCount { key: "pending".into(), rows: 2 }, KeyCount { key: "sent".into(), rows: 2 }]
        );
        assert_eq!(r.by_day[0].key, "(no created_at)");
    }

    #[test]
    fn near_duplicates_are_counted() {
        let mut a = group("s", &[("a", Some(1), "sent")]);
        let mut b = group("s", &[("b", Some(1), "sent")]);
        a.recipient_phone = "60123".into();
        b.recipient_phone = "+60 123".into();
        let mut t = Tally::new(10);
        t.add(&NearGroup { groups: vec![a, b] });
        assert_eq!((t.near.groups, t.near.rows, t.duplicate_groups), (1, 2, 0));
        assert_eq!(t.near.examples[0].phones, ["60123", "+60 123"]);
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(utc_day(1_748_736_000), "2025-06-01");
        assert_eq!(utc_day(1_748_735_999), "2025-05-31");
    }
}
