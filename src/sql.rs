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

pub const STATUS_WSREP_ON: &str = include_str!("../sql/status/wsrep_on.sql");
pub const STATUS_GROUP_REPLICATION_MODE: &str = include_str!("../sql/status/group_replication_mode.sql");
pub const STATUS_GROUP_REPLICATION_MEMBERS: &str = include_str!("../sql/status/group_replication_members.sql");
/// `SHOW REPLICA STATUS` from MariaDB 10.5 / MySQL 8.0.22 (`ServerInfo::has_show_replica_status`).
pub const SHOW_REPLICA_STATUS: &str = include_str!("../sql/status/show_replica_status.sql");
pub const SHOW_SLAVE_STATUS: &str = include_str!("../sql/status/show_slave_status.sql");
pub const STATUS_TABLE_EXISTS: &str = include_str!("../sql/status/table_exists.sql");
pub const STATUS_MIGRATION_HISTORY: &str = include_str!("../sql/status/migration_history.sql");
pub const STATUS_LAST_RUNS: &str = include_str!("../sql/status/last_runs.sql");
pub const STATUS_LOCK_HOLDER: &str = include_str!("../sql/status/lock_holder.sql");
pub const STATUS_OVERDUE_CONTACTS: &str = include_str!("../sql/status/overdue_contacts.sql");

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
