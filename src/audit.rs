//! `seqfix audit`: what duplicate sequence messages the table holds, read-only.
//! One pass (`scan`); each group put in the survivor rule's order (`arrange`), then folded
//! into counts and bounded example lists by `Tally`, a pure accumulator that unit tests
//! drive with plain values.
use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::db::Db;
use crate::empty_steps::EmptySteps;
use crate::progress::Progress;
use crate::scan::{ExactGroup, NearGroup};
use crate::schema;
use crate::survivor::{self, Rule, Verdict};

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

/// What the survivor rule does with the duplicate groups.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SurvivorSummary {
    /// `sent-first` or `oldest` (`--keep`).
    pub rule: String,
    /// The status order of `sent-first`, best first (empty under `oldest`).
    pub status_rank: Vec<String>,
    /// Groups whose kept copy is not the oldest one (the original rule's survivor).
    pub kept_not_oldest_groups: u64,
    /// Groups left alone because a copy has a status the rule does not rank (or NULL):
    /// dedupe deletes nothing in them, and the unique index cannot be added while they last.
    pub left_alone_groups: u64,
    /// The surplus rows of those groups.
    pub left_alone_rows: u64,
    /// Rows of those groups by the status the rule does not know (`(null)`: NULL).
    pub unknown_statuses: Vec<KeyCount>,
    pub left_alone_examples: Vec<ExactGroup>,
    /// Groups whose oldest copy is not `sent` while another copy is: the original rule
    /// (`--keep oldest`) keeps the unsent copy and deletes the sent one, and the senders
    /// then deliver the message again.
    pub resent_by_oldest_groups: u64,
    pub resent_by_oldest_examples: Vec<ExactGroup>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Warnings {
    /// Groups whose kept row is `failed` while another copy is `sent` (only `--keep oldest`
    /// can keep such a row).
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
    pub top_groups: Vec<TopGroup>,
    pub survivor: SurvivorSummary,
    pub warnings: Warnings,
    pub near_duplicates: NearDuplicates,
    /// Rows whose step is the empty string: no sequence, never duplicates here, but the
    /// unique index would reject those sharing phone and device.
    pub empty_steps: EmptySteps,
    /// How the scan read the table (chunks, rows, candidates, spill, longest statement).
    pub scan: crate::scan::ScanStats,
}

/// Masks every phone of a group (`mask::phone`).
fn mask_group(g: &mut ExactGroup) {
    g.recipient_phone = crate::mask::phone(&g.recipient_phone);
    for c in &mut g.copies {
        c.recipient_phone = crate::mask::phone(&c.recipient_phone);
    }
}

impl SurvivorSummary {
    /// Masks the phones of its examples: for `--mask-phones` and the ledger.
    pub fn mask_phones(&mut self) {
        self.left_alone_examples.iter_mut().for_each(mask_group);
        self.resent_by_oldest_examples.iter_mut().for_each(mask_group);
    }
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
        self.top_groups.iter_mut().for_each(|t| group(&mut t.group));
        self.warnings.failed_survivor_examples.iter_mut().for_each(group);
        self.survivor.mask_phones();
        for e in &mut self.near_duplicates.examples {
            e.phones.iter_mut().for_each(|p| *p = crate::mask::phone(p));
        }
        for e in &mut self.empty_steps.examples {
            e.recipient_phone = crate::mask::phone(&e.recipient_phone);
        }
    }
}

/// One of the largest duplicate groups, copies in survivor order; `left_alone` when the
/// rule keeps none of them (then `copies[0]` is merely the oldest).
#[derive(Debug, Clone, Serialize)]
pub struct TopGroup {
    #[serde(flatten)]
    pub group: ExactGroup,
    pub left_alone: bool,
}

impl std::ops::Deref for TopGroup {
    type Target = ExactGroup;
    fn deref(&self) -> &ExactGroup {
        &self.group
    }
}

/// Puts every exact group of `near` in `rule`'s survivor order (`Rule::arrange`) and says
/// what the rule decided for each, in the same order. Pure.
pub fn arrange(rule: &Rule, near: &mut NearGroup) -> Vec<Verdict> {
    near.groups.iter_mut().map(|g| rule.arrange(&mut g.copies)).collect()
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
    top: Vec<TopGroup>,
    top_n: usize,
    pub survivor: SurvivorSummary,
    unknown: BTreeMap<String, u64>,
    pub warnings: Warnings,
    pub near: NearDuplicates,
}

/// The UTC day of a time in microseconds since the Unix epoch, as YYYY-MM-DD.
pub fn utc_day(us: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(us.div_euclid(1_000_000).max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

impl Tally {
    pub fn new(top_n: usize, rule: &Rule) -> Tally {
        let survivor = SurvivorSummary {
            rule: rule.name().to_string(),
            status_rank: rule.statuses().to_vec(),
            ..SurvivorSummary::default()
        };
        Tally { top_n, survivor, ..Tally::default() }
    }

    /// Adds a partition whose groups `arrange` put in survivor order, with its verdicts.
    pub fn add(&mut self, near: &NearGroup, verdicts: &[Verdict]) {
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
        for (g, v) in near.groups.iter().zip(verdicts).filter(|(g, _)| g.is_duplicate()) {
            self.add_duplicate(g, v);
        }
    }

    fn add_survivor(&mut self, g: &ExactGroup, verdict: &Verdict) {
        let s = &mut self.survivor;
        let oldest = g.copies.iter().min_by(|a, b| survivor::oldest_order(*a, *b)).expect("a group has copies");
        if !survivor::is_sent(oldest.status.as_deref())
            && g.copies.iter().any(|c| survivor::is_sent(c.status.as_deref()))
        {
            s.resent_by_oldest_groups += 1;
            if s.resent_by_oldest_examples.len() < EXAMPLES {
                s.resent_by_oldest_examples.push(g.clone());
            }
        }
        match verdict {
            Verdict::Keep { .. } => {
                if g.survivor().id != oldest.id {
                    s.kept_not_oldest_groups += 1;
                }
            }
            Verdict::Unknown { statuses } => {
                s.left_alone_groups += 1;
                s.left_alone_rows += g.victims().len() as u64;
                for c in &g.copies {
                    if statuses.contains(&c.status) {
                        let key = c.status.clone().unwrap_or_else(|| "(null)".into());
                        *self.unknown.entry(key).or_default() += 1;
                    }
                }
                if s.left_alone_examples.len() < EXAMPLES {
                    s.left_alone_examples.push(g.clone());
                }
            }
        }
    }

    fn add_duplicate(&mut self, g: &ExactGroup, verdict: &Verdict) {
        self.add_survivor(g, verdict);
        self.duplicate_groups += 1;
        self.surplus_rows += g.victims().len() as u64;
        for v in g.victims() {
            *self.by_status.entry(v.status.clone().unwrap_or_else(|| "(null)".into())).or_default() += 1;
            *self.by_sequence.entry(v.sequence_id.clone().unwrap_or_else(|| "(null)".into())).or_default() += 1;
            *self.by_device.entry(g.device_id.clone()).or_default() += 1;
            *self.by_day.entry(v.created_us.map(utc_day).unwrap_or_else(|| "(no created_at)".into())).or_default() += 1;
        }
        let w = &mut self.warnings;
        let survivor = g.survivor();
        let failed = survivor.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("failed"));
        if matches!(verdict, Verdict::Keep { .. })
            && failed
            && g.victims().iter().any(|v| survivor::is_sent(v.status.as_deref()))
        {
            w.failed_survivor_groups += 1;
            if w.failed_survivor_examples.len() < EXAMPLES {
                w.failed_survivor_examples.push(g.clone());
            }
        }
        let nulls = g.copies.iter().filter(|c| c.created_us.is_none()).count() as u64;
        w.null_created_rows += nulls;
        if nulls > 0 {
            w.null_created_groups += 1;
        }
        let mut stamps: Vec<i64> = g.copies.iter().filter_map(|c| c.created_us).collect();
        stamps.sort_unstable();
        if stamps.windows(2).any(|p| p[0] == p[1]) {
            w.equal_created_groups += 1;
        }
        // The original fix deletes a row only when some copy is strictly older (compared at
        // the column's precision); rows without a timestamp, and every row at the oldest
        // time, stay.
        let oldest = stamps.first().copied();
        let stay = nulls + stamps.iter().filter(|&&s| Some(s) == oldest).count() as u64;
        if stay > 1 {
            w.left_by_original_fix_groups += 1;
            w.left_by_original_fix_rows += stay - 1;
        }
        self.keep_top(g, matches!(verdict, Verdict::Unknown { .. }));
    }

    fn keep_top(&mut self, g: &ExactGroup, left_alone: bool) {
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
            self.top.insert(pos, TopGroup { group: g.clone(), left_alone });
            self.top.truncate(self.top_n);
        }
    }

    fn sorted(map: BTreeMap<String, u64>) -> Vec<KeyCount> {
        let mut v: Vec<KeyCount> = map.into_iter().map(|(key, rows)| KeyCount { key, rows }).collect();
        v.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.key.cmp(&b.key)));
        v
    }

    pub fn top_groups(&self) -> &[TopGroup] {
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
            survivor: SurvivorSummary { unknown_statuses: Self::sorted(self.unknown), ..self.survivor },
            warnings: self.warnings,
            near_duplicates: self.near,
            empty_steps: EmptySteps::default(),
            scan: crate::scan::ScanStats::default(),
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

/// Runs the audit: schema check, one scan, the tally, with `rule` choosing the survivors.
pub fn run(db: &mut Db, cfg: &Config, top: usize, rule: &Rule) -> Result<AuditReport> {
    let info = schema::check(db, &cfg.table, schema::MESSAGE_COLUMNS)?;
    let unique_index_name = info.unique_key_index().map(|i| i.name.clone());
    let progress =
        Progress::bar(cfg.progress, &crate::scan::progress_message(&cfg.table.to_string()), info.estimated_rows);
    let mut tally = Tally::new(top, rule);
    let totals = crate::scan::scan(
        db,
        &info,
        unique_index_name.is_some(),
        |n| progress.set_estimated(n),
        |mut group| {
            let verdicts = arrange(rule, &mut group);
            tally.add(&group, &verdicts);
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
    report.scan = totals.stats;
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
                    created_us: *ts,
                })
                .collect(),
        }
    }

    /// `Tally::add` after `arrange`, as audit and dedupe call them.
    fn add(t: &mut Tally, rule: &Rule, groups: Vec<ExactGroup>) {
        let mut near = NearGroup { groups };
        let verdicts = arrange(rule, &mut near);
        t.add(&near, &verdicts);
    }

    #[test]
    fn counts_and_warnings() {
        let rule = Rule::oldest();
        let mut t = Tally::new(2, &rule);
        // failed survivor with a sent copy; strict order → the original fix handles it
        add(&mut t, &rule, vec![group("s1", &[("a", Some(1), "failed"), ("b", Some(2), "sent")])]);
        // equal timestamps → left behind by the original fix (3 rows stay, 2 surplus)
        add(
            &mut t,
            &rule,
            vec![group("s2", &[("c", Some(5), "sent"), ("d", Some(5), "pending"), ("e", Some(5), "sent")])],
        );
        // a NULL copy → left behind (2 stay)
        add(&mut t, &rule, vec![group("s3", &[("f", Some(7), "sent"), ("g", None, "pending")])]);
        // a single row: not a duplicate
        add(&mut t, &rule, vec![group("s4", &[("h", Some(7), "sent")])]);
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
        let mut t = Tally::new(10, &Rule::sent_first());
        add(&mut t, &Rule::sent_first(), vec![a, b]);
        assert_eq!((t.near.groups, t.near.rows, t.duplicate_groups), (1, 2, 0));
        assert_eq!(t.near.examples[0].phones, ["60123", "+60 123"]);
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(utc_day(1_748_736_000_000_000), "2025-06-01");
        assert_eq!(utc_day(1_748_735_999_999_999), "2025-05-31");
    }

    #[test]
    fn sent_first_keeps_the_sent_copy_and_counts_what_the_original_rule_would_resend() {
        let rule = Rule::sent_first();
        let mut t = Tally::new(10, &rule);
        // Oldest pending, newer sent: kept the sent one; the original rule re-sends.
        add(&mut t, &rule, vec![group("s1", &[("a", Some(1), "pending"), ("b", Some(2), "sent")])]);
        // Oldest queued, newer sent: the same.
        add(&mut t, &rule, vec![group("s2", &[("c", Some(1), "queued"), ("d", Some(2), "SENT")])]);
        // Oldest sent: both rules keep it.
        add(&mut t, &rule, vec![group("s3", &[("e", Some(1), "sent"), ("f", Some(2), "pending")])]);
        // An unknown status: left alone, and still a re-send under the original rule.
        add(
            &mut t,
            &rule,
            vec![group("s4", &[("g", Some(1), "delivered"), ("h", Some(2), "sent"), ("i", None, "read")])],
        );
        let s = &t.survivor;
        assert_eq!((s.kept_not_oldest_groups, s.resent_by_oldest_groups), (2, 3));
        assert_eq!((s.left_alone_groups, s.left_alone_rows), (1, 2));
        assert_eq!(s.left_alone_examples[0].sequence_stepid, "s4");
        assert_eq!(t.duplicate_groups, 4, "a group left alone is still a duplicate group");
        let r = t.finish(ReportHead {
            database: "d".into(),
            table: "t".into(),
            server: "v".into(),
            sequence_messages: 9,
            unique_index_name: None,
        });
        assert_eq!(r.survivor.rule, "sent-first");
        assert_eq!(
            r.survivor.unknown_statuses,
            vec![KeyCount { key: "delivered".into(), rows: 1 }, KeyCount { key: "read".into(), rows: 1 }]
        );
        let kept: Vec<&str> =
            r.top_groups.iter().filter(|g| g.sequence_stepid != "s4").map(|g| g.survivor().id.as_str()).collect();
        assert_eq!(kept.len(), 3);
        assert!(kept.contains(&"b") && kept.contains(&"d") && kept.contains(&"e"), "{kept:?}");
        let alone: Vec<&str> =
            r.top_groups.iter().filter(|g| g.left_alone).map(|g| g.sequence_stepid.as_str()).collect();
        assert_eq!(alone, ["s4"], "the largest groups say which ones keep no copy");
    }

    #[test]
    fn oldest_counts_the_groups_it_would_resend_and_keeps_no_other_copy() {
        let rule = Rule::oldest();
        let mut t = Tally::new(10, &rule);
        add(&mut t, &rule, vec![group("s1", &[("a", Some(1), "pending"), ("b", Some(2), "sent")])]);
        add(&mut t, &rule, vec![group("s2", &[("c", Some(1), "delivered"), ("d", Some(2), "read")])]);
        let s = &t.survivor;
        assert_eq!((s.kept_not_oldest_groups, s.resent_by_oldest_groups, s.left_alone_groups), (0, 1, 0));
        assert_eq!(t.top_groups().iter().find(|g| g.sequence_stepid == "s1").unwrap().survivor().id, "a");
    }
}
