//! The survivor rule: which copy of a duplicate group a dedupe keeps. Pure; used by the
//! plan (`audit`, `dedupe`) and again by every dedupe batch on the rows it has locked, so
//! that a copy whose status changed after the plan is judged as it is now.
//!
//! `sent-first` (the default) ranks copies by status, then by age: a copy the senders have
//! already delivered (`sent`) or are delivering (`processing`) is kept rather than an older
//! `pending` one, which the senders would then deliver again. `oldest` is the original
//! notes' rule (oldest `created_at`, NULL newest, then smallest id), status ignored.
use std::cmp::Ordering;

use anyhow::{bail, Result};
use serde::Serialize;

/// The default status order of `sent-first`: what has reached the recipient (or is on its
/// way) first, what has not last.
pub const DEFAULT_STATUS_RANK: [&str; 5] = ["sent", "processing", "queued", "pending", "failed"];

/// Most names `--status-rank` takes (the batch binds each once per statement).
pub const MAX_STATUSES: usize = 32;

/// Which rule chooses the survivor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    /// By status (`Rule::statuses`), then oldest `created_at` (NULL newest), then smallest id.
    SentFirst,
    /// Oldest `created_at` (NULL newest), then smallest id; status ignored.
    Oldest,
}

/// What decided that the kept copy comes first, for the plan file and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Its status ranks before every other copy's.
    Status,
    /// Among the copies of the best status (every copy, under `oldest`), it is the oldest.
    Oldest,
    /// Among the oldest copies of the best status, equal `created_at`, its id is the smallest.
    SmallestId,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Status => "status",
            Reason::Oldest => "oldest",
            Reason::SmallestId => "smallest-id",
        }
    }
}

/// What the rule needs of a copy: its status, its `created_at` in microseconds since the
/// epoch (`None` when NULL) and its id.
pub trait Candidate {
    fn id(&self) -> &str;
    fn status(&self) -> Option<&str>;
    fn created_us(&self) -> Option<i64>;
}

/// What the rule says of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep `copies[index]`, for `reason`.
    Keep { index: usize, reason: Reason },
    /// Some copy has a status the rule does not rank (or none): leave the group alone.
    /// The distinct unranked statuses, as found (`None`: NULL).
    Unknown { statuses: Vec<Option<String>> },
}

/// A checked survivor rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    keep: Keep,
    /// Lowercase, in rank order; empty under `oldest`.
    statuses: Vec<String>,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule::sent_first()
    }
}

impl Rule {
    /// `sent-first` with the default status order.
    pub fn sent_first() -> Rule {
        Rule { keep: Keep::SentFirst, statuses: DEFAULT_STATUS_RANK.iter().map(|s| s.to_string()).collect() }
    }

    /// The original notes' rule.
    pub fn oldest() -> Rule {
        Rule { keep: Keep::Oldest, statuses: Vec::new() }
    }

    /// `sent-first` with the order `names` gives (`--status-rank a,b,c`), which must name
    /// every status the groups hold: any other status is again unknown. Names are
    /// compared case-insensitively; they must be plain words (letters, digits, `_`, `-`).
    pub fn with_status_rank(names: &[String]) -> Result<Rule> {
        let mut statuses: Vec<String> = Vec::new();
        for raw in names {
            let name = raw.trim().to_lowercase();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                bail!("--status-rank: {raw:?} is not a status name (letters, digits, _ and - only, comma-separated)");
            }
            if statuses.contains(&name) {
                bail!("--status-rank names {name} twice");
            }
            statuses.push(name);
        }
        if statuses.is_empty() {
            bail!("--status-rank needs at least one status, e.g. sent,processing,queued,pending,failed");
        }
        if statuses.len() > MAX_STATUSES {
            bail!("--status-rank takes at most {MAX_STATUSES} statuses (got {})", statuses.len());
        }
        Ok(Rule { keep: Keep::SentFirst, statuses })
    }

    pub fn keep(&self) -> Keep {
        self.keep
    }

    /// The rule's name as `--keep` spells it.
    pub fn name(&self) -> &'static str {
        match self.keep {
            Keep::SentFirst => "sent-first",
            Keep::Oldest => "oldest",
        }
    }

    /// The ranked statuses, lowercase, best first (empty under `oldest`).
    pub fn statuses(&self) -> &[String] {
        &self.statuses
    }

    /// The rank of a status (0 is best), or `None` when the rule does not know it. NULL is
    /// never known to `sent-first`: nothing says whether such a copy went out. Compared
    /// case-insensitively (Unicode lowercase, as the server's `LOWER`); nothing else is
    /// folded: `'sent '` is not `sent`. Under `oldest` every status ranks 0.
    pub fn status_rank(&self, status: Option<&str>) -> Option<usize> {
        match self.keep {
            Keep::Oldest => Some(0),
            Keep::SentFirst => {
                let s = status?.to_lowercase();
                self.statuses.iter().position(|n| *n == s)
            }
        }
    }

    /// How two known copies compare: `Less` when `a` is kept before `b`. Status rank, then
    /// `created_at` (NULL newest), then the id's bytes.
    fn order<C: Candidate>(&self, a: &C, ra: usize, b: &C, rb: usize) -> (Ordering, Reason) {
        if ra != rb {
            return (ra.cmp(&rb), Reason::Status);
        }
        let age = |c: &C| (c.created_us().is_none(), c.created_us());
        match age(a).cmp(&age(b)) {
            Ordering::Equal => (a.id().as_bytes().cmp(b.id().as_bytes()), Reason::SmallestId),
            o => (o, Reason::Oldest),
        }
    }

    /// Chooses the survivor of `copies`. Every copy's status must be known, else the group
    /// is left alone (`Verdict::Unknown`). The reason is what separated the survivor from
    /// the copy that came closest.
    pub fn choose<C: Candidate>(&self, copies: &[C]) -> Verdict {
        let mut ranks = Vec::with_capacity(copies.len());
        let mut unknown: Vec<Option<String>> = Vec::new();
        for c in copies {
            match self.status_rank(c.status()) {
                Some(r) => ranks.push(r),
                None => {
                    let s = c.status().map(str::to_string);
                    if !unknown.contains(&s) {
                        unknown.push(s);
                    }
                }
            }
        }
        if !unknown.is_empty() {
            return Verdict::Unknown { statuses: unknown };
        }
        let mut best = 0;
        for i in 1..copies.len() {
            if self.order(&copies[i], ranks[i], &copies[best], ranks[best]).0 == Ordering::Less {
                best = i;
            }
        }
        // The reason that separates it from every other copy is the weakest one it needed.
        let mut reason = Reason::Status;
        for i in (0..copies.len()).filter(|&i| i != best) {
            let (_, r) = self.order(&copies[best], ranks[best], &copies[i], ranks[i]);
            reason = match (reason, r) {
                (_, Reason::SmallestId) | (Reason::SmallestId, _) => Reason::SmallestId,
                (_, Reason::Oldest) | (Reason::Oldest, _) => Reason::Oldest,
                _ => Reason::Status,
            };
        }
        if self.keep == Keep::Oldest && reason == Reason::Status {
            reason = Reason::Oldest;
        }
        Verdict::Keep { index: best, reason }
    }

    /// Puts `copies` in survivor order (the kept copy first, the others in the order the
    /// rule ranks them) when every status is known; leaves them as they are otherwise.
    pub fn arrange<C: Candidate>(&self, copies: &mut [C]) -> Verdict {
        let verdict = self.choose(copies);
        if let Verdict::Keep { reason, .. } = verdict {
            // Every status is known here; the reason does not depend on the copies' order.
            let rank = |c: &C| self.status_rank(c.status()).unwrap_or(usize::MAX);
            copies.sort_by(|a, b| self.order(a, rank(a), b, rank(b)).0);
            return Verdict::Keep { index: 0, reason };
        }
        verdict
    }
}

/// The original rule's order (oldest `created_at`, NULL newest, then smallest id): the
/// order the scan hands groups over in. Pure.
pub fn oldest_order<C: Candidate>(a: &C, b: &C) -> Ordering {
    let key = |c: &C| (c.created_us().is_none(), c.created_us());
    key(a).cmp(&key(b)).then_with(|| a.id().as_bytes().cmp(b.id().as_bytes()))
}

/// Whether a status is `sent`, compared case-insensitively (the audit's re-send warning).
pub fn is_sent(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.to_lowercase() == "sent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct C(&'static str, Option<&'static str>, Option<i64>);

    impl Candidate for C {
        fn id(&self) -> &str {
            self.0
        }
        fn status(&self) -> Option<&str> {
            self.1
        }
        fn created_us(&self) -> Option<i64> {
            self.2
        }
    }

    fn kept(rule: &Rule, copies: &[C]) -> (&'static str, Reason) {
        match rule.choose(copies) {
            Verdict::Keep { index, reason } => (copies[index].0, reason),
            v => panic!("expected a survivor, got {v:?}"),
        }
    }

    #[test]
    fn a_sent_copy_is_kept_over_an_older_pending_one() {
        let g = [C("a", Some("pending"), Some(1)), C("b", Some("sent"), Some(2))];
        assert_eq!(kept(&Rule::sent_first(), &g), ("b", Reason::Status));
    }

    #[test]
    fn statuses_rank_sent_processing_queued_pending_failed() {
        let r = Rule::sent_first();
        let order = ["sent", "processing", "queued", "pending", "failed"];
        for (i, better) in order.iter().enumerate() {
            for worse in &order[i + 1..] {
                // The worse one is older and has the smaller id: status still wins.
                let g = [C("a", Some(worse), Some(1)), C("b", Some(better), Some(9))];
                assert_eq!(kept(&r, &g).0, "b", "{better} before {worse}");
            }
        }
    }

    #[test]
    fn statuses_compare_case_insensitively_and_nothing_else_is_folded() {
        let r = Rule::sent_first();
        assert_eq!(r.status_rank(Some("SENT")), Some(0));
        assert_eq!(r.status_rank(Some("Queued")), Some(2));
        assert_eq!(r.status_rank(Some("sent ")), None);
        assert_eq!(r.status_rank(Some("sént")), None);
    }

    #[test]
    fn equal_status_keeps_the_oldest_with_null_newest_then_the_smallest_id() {
        let r = Rule::sent_first();
        let g = [C("a", Some("sent"), None), C("b", Some("sent"), Some(5)), C("c", Some("sent"), Some(3))];
        assert_eq!(kept(&r, &g), ("c", Reason::Oldest));
        let g = [C("d", Some("sent"), Some(3)), C("c", Some("sent"), Some(3)), C("e", Some("pending"), Some(1))];
        assert_eq!(kept(&r, &g), ("c", Reason::SmallestId));
        let g = [C("f", Some("pending"), None), C("e", Some("pending"), None)];
        assert_eq!(kept(&r, &g), ("e", Reason::SmallestId));
    }

    #[test]
    fn microseconds_decide_the_age() {
        let g = [C("a", Some("sent"), Some(1_000_001)), C("b", Some("sent"), Some(1_000_000))];
        assert_eq!(kept(&Rule::sent_first(), &g), ("b", Reason::Oldest));
        assert_eq!(kept(&Rule::oldest(), &g), ("b", Reason::Oldest));
    }

    #[test]
    fn an_unknown_status_leaves_the_group_alone() {
        let r = Rule::sent_first();
        let g = [C("a", Some("sent"), Some(1)), C("b", Some("delivered"), Some(2)), C("c", Some("read"), Some(3))];
        assert_eq!(r.choose(&g), Verdict::Unknown { statuses: vec![Some("delivered".into()), Some("read".into())] });
        let g = [C("a", Some("sent"), Some(1)), C("b", None, Some(2))];
        assert_eq!(r.choose(&g), Verdict::Unknown { statuses: vec![None] }, "NULL is unknown");
    }

    #[test]
    fn status_rank_names_the_full_order_and_other_statuses_stay_unknown() {
        let names: Vec<String> = ["Delivered", "read", "sent", "pending"].iter().map(|s| s.to_string()).collect();
        let r = Rule::with_status_rank(&names).unwrap();
        let g = [C("a", Some("sent"), Some(1)), C("b", Some("READ"), Some(2)), C("c", Some("delivered"), Some(3))];
        assert_eq!(kept(&r, &g), ("c", Reason::Status));
        let g = [C("a", Some("sent"), Some(1)), C("b", Some("queued"), Some(2))];
        assert_eq!(r.choose(&g), Verdict::Unknown { statuses: vec![Some("queued".into())] });
        for bad in [vec![], vec!["sent".to_string(), "SENT".into()], vec!["a b".into()], vec!["".into()]] {
            assert!(Rule::with_status_rank(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oldest_is_the_original_rule_and_ignores_status() {
        let r = Rule::oldest();
        let g = [C("b", Some("sent"), Some(2)), C("a", Some("pending"), Some(1)), C("c", Some("delivered"), None)];
        assert_eq!(kept(&r, &g), ("a", Reason::Oldest));
        let g = [C("b", None, Some(2)), C("a", Some("whatever"), Some(2))];
        assert_eq!(kept(&r, &g), ("a", Reason::SmallestId));
    }

    #[test]
    fn arrange_puts_the_survivor_first_and_leaves_unknown_groups_as_they_are() {
        let r = Rule::sent_first();
        let mut g = vec![
            C("a", Some("pending"), Some(1)),
            C("b", Some("failed"), Some(2)),
            C("c", Some("sent"), Some(3)),
            C("d", Some("queued"), Some(0)),
        ];
        assert_eq!(r.arrange(&mut g), Verdict::Keep { index: 0, reason: Reason::Status });
        assert_eq!(g.iter().map(|c| c.0).collect::<Vec<_>>(), ["c", "d", "a", "b"]);
        let mut u = vec![C("b", Some("read"), Some(1)), C("a", Some("sent"), Some(2))];
        assert!(matches!(r.arrange(&mut u), Verdict::Unknown { .. }));
        assert_eq!(u[0].0, "b");
    }

    #[test]
    fn the_oldest_order_is_the_scan_order() {
        let mut g = [C("c", None, None), C("b", None, Some(10)), C("a", None, Some(10)), C("0", None, Some(11))];
        g.sort_by(oldest_order);
        assert_eq!(g.iter().map(|c| c.0).collect::<Vec<_>>(), ["a", "b", "0", "c"]);
    }
}
