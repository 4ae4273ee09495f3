//! What else a dedupe would change: foreign keys that reference the table (the server
//! deletes or changes their rows with ours, or refuses the delete) and triggers that fire
//! on the change. Neither effect is archived, and `restore` cannot undo it, so `dedupe`
//! (and `--empty-steps-to-null`) refuses, naming them, unless `--allow-cascades`. Found in
//! information_schema before anything changes; `refusal` is the pure part.
use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;

use super::Options;
use crate::db::Db;
use crate::ident::Ident;

/// What the run does to the table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// dedupe: deletes rows.
    Delete,
    /// --empty-steps-to-null: updates sequence_stepid.
    NullSteps,
}

impl Change {
    fn event(self) -> &'static str {
        match self {
            Change::Delete => "DELETE",
            Change::NullSteps => "UPDATE",
        }
    }
}

/// A foreign key referencing the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// The referenced columns, comma-separated.
    pub referenced: String,
    pub delete_rule: String,
    pub update_rule: String,
}

/// A trigger on the table (name, BEFORE/AFTER).
pub type Trigger = (String, String);

/// The one-line refusal for `change` given what references the table and what fires on
/// it, or `None` when nothing does. A foreign key matters to a delete whatever its rule,
/// and to `--empty-steps-to-null` only when it references `sequence_stepid`. Pure.
pub fn refusal(
    database: &str,
    table: &str,
    change: Change,
    fks: &[ForeignKey],
    triggers: &[Trigger],
) -> Option<String> {
    let fks: Vec<String> = fks
        .iter()
        .filter(|f| {
            change == Change::Delete || f.referenced.split(',').any(|c| c.eq_ignore_ascii_case("sequence_stepid"))
        })
        .map(|f| {
            let rule = match change {
                Change::Delete => format!("ON DELETE {}", f.delete_rule),
                Change::NullSteps => format!("ON UPDATE {}", f.update_rule),
            };
            format!("{}.{}.{} ({rule})", f.schema, f.table, f.name)
        })
        .collect();
    let triggers: Vec<String> =
        triggers.iter().map(|(name, timing)| format!("{name} ({timing} {})", change.event())).collect();
    if fks.is_empty() && triggers.is_empty() {
        return None;
    }
    let mut what = Vec::new();
    if !fks.is_empty() {
        what.push(format!("is referenced by foreign key(s) {}", fks.join(", ")));
    }
    if !triggers.is_empty() {
        what.push(format!("has {} trigger(s) {}", change.event(), triggers.join(", ")));
    }
    let verb = match change {
        Change::Delete => "deleting its duplicates",
        Change::NullSteps => "setting its empty steps to NULL",
    };
    Some(format!(
        "{database}.{table} {}: {verb} would also change or delete rows elsewhere, which seqfix does not archive and restore cannot undo (or fail on a RESTRICT key); nothing was changed (pass --allow-cascades to go ahead anyway, see docs/runbook.md)",
        what.join(" and ")
    ))
}

/// Reads the foreign keys referencing `table` and its triggers for `change`.
pub fn find(db: &mut Db, table: &Ident, change: Change) -> Result<(Vec<ForeignKey>, Vec<Trigger>)> {
    let rows: Vec<(String, String, String, String, String, String)> = db
        .conn
        .exec(crate::sql::DEDUPE_FOREIGN_KEYS, (table.as_str(),))
        .with_context(|| format!("cannot list the foreign keys that reference {} (information_schema)", table))?;
    let fks = rows
        .into_iter()
        .map(|(schema, table, name, referenced, delete_rule, update_rule)| ForeignKey {
            schema,
            table,
            name,
            referenced,
            delete_rule,
            update_rule,
        })
        .collect();
    let triggers: Vec<Trigger> = db
        .conn
        .exec(crate::sql::DEDUPE_TRIGGERS, (table.as_str(), change.event()))
        .with_context(|| format!("cannot list the triggers on {} (information_schema)", table))?;
    Ok((fks, triggers))
}

/// Refuses (an error, exit 2) when something would change with the table's rows, unless
/// `--allow-cascades`; then it only logs what will happen.
pub fn refuse_unless_allowed(db: &mut Db, table: &Ident, change: Change, opts: &Options) -> Result<()> {
    let (fks, triggers) = find(db, table, change)?;
    let Some(line) = refusal(&db.database, table.as_str(), change, &fks, &triggers) else { return Ok(()) };
    if opts.allow_cascades {
        log::warn!("--allow-cascades: going ahead although {line}");
        return Ok(());
    }
    bail!("{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(name: &str, cols: &str, on_delete: &str) -> ForeignKey {
        ForeignKey {
            schema: "app".into(),
            table: "receipts".into(),
            name: name.into(),
            referenced: cols.into(),
            delete_rule: on_delete.into(),
            update_rule: "RESTRICT".into(),
        }
    }

    #[test]
    fn nothing_referencing_is_no_refusal() {
        assert_eq!(refusal("app", "m", Change::Delete, &[], &[]), None);
    }

    #[test]
    fn names_every_key_and_trigger_in_one_line() {
        let line = refusal(
            "app",
            "m",
            Change::Delete,
            &[fk("fk_msg", "id", "CASCADE"), fk("fk_other", "id", "SET NULL")],
            &[("audit_del".into(), "AFTER".into())],
        )
        .unwrap();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("app.m is referenced by foreign key(s) app.receipts.fk_msg (ON DELETE CASCADE), app.receipts.fk_other (ON DELETE SET NULL) and has DELETE trigger(s) audit_del (AFTER DELETE)"), "{line}");
        assert!(line.contains("nothing was changed") && line.contains("--allow-cascades"), "{line}");
    }

    #[test]
    fn nulling_steps_minds_only_keys_on_the_step_column() {
        let keys = [fk("fk_msg", "id", "CASCADE"), fk("fk_step", "sequence_stepid", "CASCADE")];
        let line = refusal("app", "m", Change::NullSteps, &keys, &[]).unwrap();
        assert!(line.contains("app.receipts.fk_step (ON UPDATE RESTRICT)") && !line.contains("fk_msg"), "{line}");
        assert_eq!(refusal("app", "m", Change::NullSteps, &keys[..1], &[]), None);
        let t = refusal("app", "m", Change::NullSteps, &[], &[("t".into(), "BEFORE".into())]).unwrap();
        assert!(t.contains("has UPDATE trigger(s) t (BEFORE UPDATE)"), "{t}");
    }
}
