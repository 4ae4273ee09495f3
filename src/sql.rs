//! Every SQL statement seqfix sends, embedded from `sql/` at compile time. The one place
//! that names those files. Templates contain `{table}`-style placeholders that only
//! `render` fills, and only with validated identifiers; values are always bound with `?`.
use crate::config::Ident;

pub const GET_LOCK: &str = include_str!("../sql/lock/get_lock.sql");
pub const IS_USED_LOCK: &str = include_str!("../sql/lock/is_used_lock.sql");
pub const RELEASE_LOCK: &str = include_str!("../sql/lock/release_lock.sql");

pub const TABLE_INFO: &str = include_str!("../sql/schema/table_info.sql");
pub const COLUMNS: &str = include_str!("../sql/schema/columns.sql");
pub const INDEXES: &str = include_str!("../sql/schema/indexes.sql");

pub const SESSION_TUNING: &str = include_str!("../sql/session_tuning.sql");
pub const SCAN: &str = include_str!("../sql/audit/scan.sql");
pub const SCAN_KEYS: &str = include_str!("../sql/audit/scan_keys.sql");
pub const COUNT_SEQUENCE_MESSAGES: &str = include_str!("../sql/audit/count.sql");

pub const LEDGER_CREATE: &str = include_str!("../sql/ledger/create.sql");
pub const LEDGER_START: &str = include_str!("../sql/ledger/start.sql");
pub const LEDGER_FINISH: &str = include_str!("../sql/ledger/finish.sql");

pub const PROCESS_BINLOG_FORMAT: &str = include_str!("../sql/process/binlog_format.sql");
pub const PROCESS_READ_COMMITTED: &str = include_str!("../sql/process/read_committed.sql");
pub const PROCESS_WSREP_ON: &str = include_str!("../sql/process/wsrep_on.sql");
pub const PROCESS_GROUP_REPLICATION_MODE: &str = include_str!("../sql/process/group_replication_mode.sql");
pub const PROCESS_LAST_RUN: &str = include_str!("../sql/process/last_run.sql");
pub const PROCESS_PROBE_INSERT: &str = include_str!("../sql/process/probe_insert.sql");
pub const PROCESS_PROBE_UPDATE: &str = include_str!("../sql/process/probe_update.sql");
pub const PROCESS_PROBE_TEMPORARY: &str = include_str!("../sql/process/probe_temporary.sql");
pub const PROCESS_DROP_PROBE: &str = include_str!("../sql/process/drop_probe.sql");
pub const PROCESS_DROP_TEMPORARY: &str = include_str!("../sql/process/drop_temporary.sql");
pub const PROCESS_DUE: &str = include_str!("../sql/process/due.sql");
pub const PROCESS_DUE_COUNT: &str = include_str!("../sql/process/due_count.sql");
pub const PROCESS_STEPS: &str = include_str!("../sql/process/steps.sql");
pub const PROCESS_LEAD_KEYS: &str = include_str!("../sql/process/lead_keys.sql");
pub const PROCESS_FIRST_LEADS_CREATE: &str = include_str!("../sql/process/first_leads_create.sql");
pub const PROCESS_FIRST_LEADS: &str = include_str!("../sql/process/first_leads.sql");
pub const PROCESS_BATCH_IDS: &str = include_str!("../sql/process/batch_ids.sql");
pub const PROCESS_BATCH: &str = include_str!("../sql/process/batch.sql");
pub const PROCESS_LOCK_CONTACTS: &str = include_str!("../sql/process/lock_contacts.sql");
pub const PROCESS_EXISTING: &str = include_str!("../sql/process/existing.sql");
pub const PROCESS_INSERT_MESSAGES: &str = include_str!("../sql/process/insert_messages.sql");
pub const PROCESS_INSERTED: &str = include_str!("../sql/process/inserted.sql");
pub const PROCESS_ADVANCE: &str = include_str!("../sql/process/advance.sql");
pub const PROCESS_COMPLETE: &str = include_str!("../sql/process/complete.sql");
pub const PROCESS_INSERT_LOGS: &str = include_str!("../sql/process/insert_logs.sql");

/// Fills a `{name}` placeholder with `count` copies of `tuple` (e.g. `?` for an `IN` list, or
/// `(?, ?, NOW())` for the rows of a multi-row insert), comma-separated. Only placeholder
/// marks go into the text; the values are bound.
pub fn repeat(template: &str, name: &str, tuple: &str, count: usize) -> String {
    template.replace(&format!("{{{name}}}"), &vec![tuple; count].join(", "))
}

/// Fills `{name}` placeholders with backtick-quoted, validated identifiers.
pub fn render(template: &str, idents: &[(&str, &Ident)]) -> String {
    let mut out = template.to_string();
    for (name, ident) in idents {
        out = out.replace(&format!("{{{name}}}"), &ident.quoted());
    }
    debug_assert!(!out.contains("{table}"), "unfilled placeholder in {out}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_quotes_identifiers() {
        let t = Ident::new("table", "msgs").unwrap();
        assert_eq!(render("SELECT 1 FROM {table} WHERE id = ?", &[("table", &t)]), "SELECT 1 FROM `msgs` WHERE id = ?");
    }

    #[test]
    fn repeat_fills_marks() {
        assert_eq!(repeat("x IN ({ids})", "ids", "?", 3), "x IN (?, ?, ?)");
        assert_eq!(repeat("VALUES {rows}", "rows", "(?, NOW())", 2), "VALUES (?, NOW()), (?, NOW())");
    }
}
