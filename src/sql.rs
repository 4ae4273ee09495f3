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
