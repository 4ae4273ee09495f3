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

pub const HISTORY_CREATE: &str = include_str!("../sql/migrate/history_create.sql");
pub const HISTORY_EXISTS: &str = include_str!("../sql/migrate/history_exists.sql");
pub const HISTORY_SELECT: &str = include_str!("../sql/migrate/history_select.sql");
pub const HISTORY_START: &str = include_str!("../sql/migrate/history_start.sql");
pub const HISTORY_FINISH: &str = include_str!("../sql/migrate/history_finish.sql");
pub const HISTORY_DELETE: &str = include_str!("../sql/migrate/history_delete.sql");
pub const DUPLICATES_EXIST: &str = include_str!("../sql/migrate/duplicates_exist.sql");
pub const DUPLICATE_GROUPS: &str = include_str!("../sql/migrate/duplicate_groups.sql");
pub const LONG_TRANSACTIONS: &str = include_str!("../sql/migrate/long_transactions.sql");
pub const LOCK_WAIT_TIMEOUT: &str = include_str!("../sql/migrate/lock_wait_timeout.sql");

/// The schema migrations `seqfix migrate` applies to the messages table, in order:
/// (version, name, up template, down template). Templates take `{table}`. Their checksum
/// (see `migrate::plan::checksum`) is recorded when applied, so never edit a released one:
/// add a new migration instead.
pub const MIGRATIONS: &[(u32, &str, &str, &str)] = &[(
    1,
    "unique_sequence_message",
    include_str!("../sql/migrations/0001_unique_sequence_message.up.sql"),
    include_str!("../sql/migrations/0001_unique_sequence_message.down.sql"),
)];

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
}
