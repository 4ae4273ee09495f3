//! Rows whose `sequence_stepid` is the empty string. The application treats them as no
//! sequence (like NULL), so they are never sequence duplicates and `dedupe` leaves them
//! alone; but the unique index treats `''` as a value like any other and would reject a
//! second such row for the same phone and device. `collisions` says how many it would
//! reject (audit reports it, migrate's preflight refuses on it); the remedy, setting them to
//! NULL in archived batches, is `dedupe --empty-steps-to-null` (`dedupe::empty`).
use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use serde::Serialize;

use crate::db::Db;
use crate::ident::Ident;

/// How many example groups are kept.
pub const EXAMPLES: usize = 10;

/// Rows with an empty step sharing (phone, device).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EmptyStepGroup {
    pub recipient_phone: String,
    pub device_id: String,
    pub rows: u64,
}

/// What the table holds of empty steps and what the unique index would do to them.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct EmptySteps {
    /// Rows whose step is the empty string.
    pub rows: u64,
    /// Keys (phone, device) shared by several of them.
    pub colliding_groups: u64,
    /// Rows the unique index would reject: each colliding group's rows less one.
    pub colliding_rows: u64,
    /// The largest colliding groups.
    pub examples: Vec<EmptyStepGroup>,
}

impl EmptySteps {
    /// Folds the colliding groups (largest first) of `rows` empty-step rows. Pure.
    pub fn of(rows: u64, groups: impl IntoIterator<Item = EmptyStepGroup>) -> EmptySteps {
        let mut e = EmptySteps { rows, ..EmptySteps::default() };
        for g in groups {
            e.colliding_groups += 1;
            e.colliding_rows += g.rows.saturating_sub(1);
            if e.examples.len() < EXAMPLES {
                e.examples.push(g);
            }
        }
        e
    }

    /// The refusal line of a command that needs the unique index, or `None`.
    pub fn refusal(&self, database: &str, table: &Ident) -> Option<String> {
        (self.colliding_rows > 0).then(|| {
            format!(
                "{} rows of {database}.{table} have an empty sequence_stepid (no sequence to the application) and share \
                 phone and device in {} groups, so the unique index would reject {} of them: run \
                 `seqfix dedupe --empty-steps-to-null` to set them to NULL first (archived, undone by `seqfix restore`; \
                 nothing was changed)",
                self.colliding_rows + self.colliding_groups,
                self.colliding_groups,
                self.colliding_rows
            )
        })
    }
}

/// Reads the colliding groups of empty-step rows (`sql/audit/empty_steps.sql`, one pass);
/// `rows` is the number of empty-step rows, when the caller knows it.
pub fn collisions(db: &mut Db, table: &Ident, rows: Option<u64>) -> Result<EmptySteps> {
    let ctx = || format!("checking {}.{} for rows with an empty sequence_stepid", db.database, table);
    let groups: Vec<(String, String, u64)> =
        db.conn.query(crate::sql::render(crate::sql::EMPTY_STEPS, &[("table", table)])).with_context(ctx)?;
    let colliding: u64 = groups.iter().map(|g| g.2).sum();
    let groups = groups.into_iter().map(|(recipient_phone, device_id, rows)| EmptyStepGroup {
        recipient_phone,
        device_id,
        rows,
    });
    Ok(EmptySteps::of(rows.unwrap_or(colliding), groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(phone: &str, rows: u64) -> EmptyStepGroup {
        EmptyStepGroup { recipient_phone: phone.into(), device_id: "d".into(), rows }
    }

    #[test]
    fn the_index_keeps_one_row_of_each_colliding_group() {
        let e = EmptySteps::of(9, [g("1", 3), g("2", 2)]);
        assert_eq!((e.rows, e.colliding_groups, e.colliding_rows), (9, 2, 3));
        assert_eq!(e.examples.len(), 2);
        let t = Ident::new("table", "m").unwrap();
        let line = e.refusal("app", &t).unwrap();
        assert!(
            line.contains("5 rows of app.m") && line.contains("in 2 groups") && line.contains("reject 3"),
            "{line}"
        );
        assert!(line.contains("seqfix dedupe --empty-steps-to-null"), "{line}");
    }

    #[test]
    fn empty_steps_that_do_not_collide_are_no_refusal() {
        let e = EmptySteps::of(4, []);
        assert_eq!(e.refusal("app", &Ident::new("table", "m").unwrap()), None);
        let many = EmptySteps::of(100, (0..20).map(|i| g(&i.to_string(), 2)));
        assert_eq!((many.examples.len(), many.colliding_rows), (EXAMPLES, 20));
    }
}
