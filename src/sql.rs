//! Every SQL statement seqfix sends, embedded from `sql/` at compile time. The one place
//! that names those files. Templates contain `{table}`-style placeholders that only
//! `render` fills, and only with validated identifiers; values are always bound with `?`.
use crate::ident::Ident;

pub const GET_LOCK: &str = include_str!("../sql/lock/get_lock.sql");
pub const IS_USED_LOCK: &str = include_str!("../sql/lock/is_used_lock.sql");
pub const RELEASE_LOCK: &str = include_str!("../sql/lock/release_lock.sql");

pub const TABLE_INFO: &str = include_str!("../sql/schema/table_info.sql");
pub const COLUMNS: &str = include_str!("../sql/schema/columns.sql");
pub const INDEXES: &str = include_str!("../sql/schema/indexes.sql");

pub const SESSION_TUNING: &str = include_str!("../sql/session_tuning.sql");
pub const SCAN_CHUNK: &str = include_str!("../sql/audit/chunk.sql");
pub const SCAN_WEIGH: &str = include_str!("../sql/audit/weigh.sql");
pub const SCAN_DETAILS: &str = include_str!("../sql/audit/details.sql");
pub const SCAN_DETAILS_KEYS_ONLY: &str = include_str!("../sql/audit/details_keys_only.sql");
pub const SCAN_NEAR_WEIGHT: &str = include_str!("../sql/audit/near_weight.sql");
pub const SCAN_COLLATION: &str = include_str!("../sql/audit/collation.sql");
pub const CREATED_US_TIMESTAMP: &str = include_str!("../sql/audit/created_us_timestamp.sql");
pub const CREATED_US_DATETIME: &str = include_str!("../sql/audit/created_us_datetime.sql");
pub const EMPTY_STEPS: &str = include_str!("../sql/audit/empty_steps.sql");

pub const LEDGER_CREATE: &str = include_str!("../sql/ledger/create.sql");
pub const LEDGER_START: &str = include_str!("../sql/ledger/start.sql");
pub const LEDGER_FINISH: &str = include_str!("../sql/ledger/finish.sql");

// The cluster-wide lease of `seqfix process` (`lease`).
pub const LEASE_CREATE: &str = include_str!("../sql/lease/create.sql");
pub const LEASE_EXISTS: &str = include_str!("../sql/lease/exists.sql");
pub const LEASE_INSERT: &str = include_str!("../sql/lease/insert.sql");
pub const LEASE_LOCK: &str = include_str!("../sql/lease/lock.sql");
pub const LEASE_CLAIM: &str = include_str!("../sql/lease/claim.sql");
pub const LEASE_RENEW: &str = include_str!("../sql/lease/renew.sql");
pub const LEASE_EXTEND: &str = include_str!("../sql/lease/extend.sql");
pub const LEASE_RELEASE: &str = include_str!("../sql/lease/release.sql");
pub const LEASE_READ: &str = include_str!("../sql/lease/read.sql");
pub const LEASE_NODE: &str = include_str!("../sql/lease/node.sql");
pub const LEASE_WSREP_NODE_NAME: &str = include_str!("../sql/lease/wsrep_node_name.sql");
pub const LEASE_SYNC_WAIT: &str = include_str!("../sql/lease/sync_wait.sql");
pub const LEASE_SET_SYNC_WAIT: &str = include_str!("../sql/lease/set_sync_wait.sql");

pub const STATUS_TABLE_EXISTS: &str = include_str!("../sql/status/table_exists.sql");
pub const STATUS_LAST_RUNS: &str = include_str!("../sql/status/last_runs.sql");
pub const STATUS_RUN_STATUS: &str = include_str!("../sql/status/run_status.sql");
pub const STATUS_LOCK_HOLDER: &str = include_str!("../sql/status/lock_holder.sql");
// Cluster kind, asked once for `status` and every command's guards (`db::cluster_mode`,
// `process::guards`).
pub const SERVER_WSREP_ON: &str = include_str!("../sql/server/wsrep_on.sql");
pub const SERVER_GROUP_REPLICATION_MODE: &str = include_str!("../sql/server/group_replication_mode.sql");
pub const SERVER_GROUP_REPLICATION_MEMBERS: &str = include_str!("../sql/server/group_replication_members.sql");
pub const SERVER_READ_ONLY: &str = include_str!("../sql/server/read_only.sql");
pub const SERVER_READ_ONLY_MARIADB: &str = include_str!("../sql/server/read_only_mariadb.sql");
pub const SERVER_SUPER_READ_ONLY: &str = include_str!("../sql/server/super_read_only.sql");
// Galera facts (`db::galera_node`) and the session settings of migrate's DDL and locks there.
pub const SERVER_WSREP_STATUS: &str = include_str!("../sql/server/wsrep_status.sql");
pub const SERVER_WSREP_OSU_TOI: &str = include_str!("../sql/server/wsrep_osu_toi.sql");
pub const SERVER_LOCK_SESSION_WAIT_TIMEOUT: &str = include_str!("../sql/server/lock_session_wait_timeout.sql");
// Batch transactions on a cluster (`txn`, `dedupe::txn`, `db::write_set_limits`).
pub const SERVER_SQL_MODE: &str = include_str!("../sql/server/sql_mode.sql");
pub const SERVER_IN_TRANSACTION: &str = include_str!("../sql/server/in_transaction.sql");
pub const SERVER_IN_TRANSACTION_MYSQL: &str = include_str!("../sql/server/in_transaction_mysql.sql");
pub const SERVER_WSREP_MAX_WS_ROWS: &str = include_str!("../sql/server/wsrep_max_ws_rows.sql");
pub const SERVER_WSREP_MAX_WS_SIZE: &str = include_str!("../sql/server/wsrep_max_ws_size.sql");
pub const SERVER_GROUP_REPLICATION_SIZE_LIMIT: &str =
    include_str!("../sql/server/group_replication_transaction_size_limit.sql");
pub const DEDUPE_AVG_ROW_LENGTH: &str = include_str!("../sql/dedupe/avg_row_length.sql");
pub const PROCESSLIST_MARIADB: &str = include_str!("../sql/server/processlist_mariadb.sql");
pub const PROCESSLIST_MYSQL: &str = include_str!("../sql/server/processlist_mysql.sql");
pub const STATUS_OVERDUE_CONTACTS: &str = include_str!("../sql/status/overdue_contacts.sql");
pub const BATCH_SESSION: &str = include_str!("../sql/dedupe/session.sql");
pub const BATCH_LOCK_WAIT: &str = include_str!("../sql/dedupe/lock_wait.sql");
pub const DEDUPE_LOCK_BATCH: &str = include_str!("../sql/dedupe/lock_batch.sql");
pub const DEDUPE_ARCHIVE_BATCH: &str = include_str!("../sql/dedupe/archive_batch.sql");
pub const DEDUPE_LOCK_AND_ARCHIVE: &str = include_str!("../sql/dedupe/lock_and_archive.sql");
pub const DEDUPE_KEPT_FIRST: &str = include_str!("../sql/dedupe/kept_first.sql");
pub const DEDUPE_KEPT_FIRST_BY_STATUS: &str = include_str!("../sql/dedupe/kept_first_by_status.sql");
pub const DEDUPE_STATUS_RANKS: &str = include_str!("../sql/dedupe/status_ranks.sql");
pub const DEDUPE_DELETE_BATCH: &str = include_str!("../sql/dedupe/delete_batch.sql");
pub const DEDUPE_PROBE_DELETE: &str = include_str!("../sql/dedupe/probe_delete.sql");
pub const DEDUPE_PROBE_UPDATE: &str = include_str!("../sql/dedupe/probe_update.sql");
pub const DEDUPE_FOREIGN_KEYS: &str = include_str!("../sql/dedupe/foreign_keys.sql");
pub const DEDUPE_TRIGGERS: &str = include_str!("../sql/dedupe/triggers.sql");
pub const EMPTY_STEPS_IDS: &str = include_str!("../sql/empty_steps/ids.sql");
pub const EMPTY_STEPS_ARCHIVE: &str = include_str!("../sql/empty_steps/archive.sql");
pub const EMPTY_STEPS_NULL: &str = include_str!("../sql/empty_steps/null.sql");
pub const ARCHIVE_CREATE: &str = include_str!("../sql/archive/create.sql");
pub const RESTORE_COUNT: &str = include_str!("../sql/restore/count.sql");
pub const RESTORE_NEXT_IDS: &str = include_str!("../sql/restore/next_ids.sql");
pub const RESTORE_INSERT: &str = include_str!("../sql/restore/insert.sql");
pub const RESTORE_DELETE: &str = include_str!("../sql/restore/delete.sql");
pub const RESTORE_SET_BACK: &str = include_str!("../sql/restore/set_back.sql");
pub const RESTORE_SET_BACK_IDS: &str = include_str!("../sql/restore/set_back_ids.sql");
/// `SHOW REPLICA STATUS` from MariaDB 10.5 / MySQL 8.0.22 (`ServerInfo::has_show_replica_status`).
pub const SHOW_REPLICA_STATUS: &str = include_str!("../sql/replica/show_replica_status.sql");
pub const SHOW_SLAVE_STATUS: &str = include_str!("../sql/replica/show_slave_status.sql");
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

pub const LOCK_IDLE_TIMEOUT: &str = include_str!("../sql/lock/idle_timeout.sql");
pub const PROCESS_LOCK_WAIT: &str = include_str!("../sql/process/lock_wait.sql");
pub const SESSION_UTC: &str = include_str!("../sql/server/utc.sql");
pub const PROCESS_BINLOG_FORMAT: &str = include_str!("../sql/process/binlog_format.sql");
pub const PROCESS_BINLOG_FORMAT_MYSQL: &str = include_str!("../sql/process/binlog_format_mysql.sql");
pub const PROCESS_READ_COMMITTED: &str = include_str!("../sql/process/read_committed.sql");
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
pub const PROCESS_FAILED_COPIES: &str = include_str!("../sql/process/failed_copies.sql");
pub const PROCESS_REQUEUE_COUNTS: &str = include_str!("../sql/process/requeue_counts.sql");
pub const PROCESS_REQUEUE: &str = include_str!("../sql/process/requeue.sql");
pub const PROCESS_INSERT_LOGS: &str = include_str!("../sql/process/insert_logs.sql");

/// Fills a `{name}` placeholder with `count` copies of `tuple` (e.g. `?` for an `IN` list, or
/// `(?, ?, NOW())` for the rows of a multi-row insert): see `Fragment::repeated`.
pub fn repeat(template: &str, name: &str, tuple: &'static str, count: usize) -> String {
    template.replace(&format!("{{{name}}}"), Fragment::repeated(tuple, count).as_str())
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

/// A piece of SQL text built only from validated identifiers, server-reported column types
/// or `?` placeholders, never from values: what `render_parts` may splice into a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment(String);

impl Fragment {
    /// `a`, `b`, `c` (backtick-quoted).
    pub fn columns(cols: &[Ident]) -> Fragment {
        Fragment(cols.iter().map(Ident::quoted).collect::<Vec<_>>().join(", "))
    }

    /// `?, ?, ?`: n placeholders for an `IN (...)` list.
    pub fn placeholders(n: usize) -> Fragment {
        Fragment::repeated("?", n)
    }

    /// n copies of a placeholder tuple such as `(?, ?, NOW())`, comma-separated: the rows
    /// of a multi-row insert. Only marks go into the text; the values are bound.
    pub fn repeated(tuple: &'static str, n: usize) -> Fragment {
        Fragment(vec![tuple; n].join(", "))
    }

    /// `s`.`a`, `s`.`b`: columns qualified by a table alias.
    pub fn qualified_columns(alias: &str, cols: &[Ident]) -> Fragment {
        Fragment(cols.iter().map(|c| format!("{alias}.{}", c.quoted())).collect::<Vec<_>>().join(", "))
    }

    /// `SELECT ? AS a, ? AS b UNION ALL SELECT ?, ? ...`: a derived table of n bound pairs,
    /// with the two column names given (fixed words of the caller, not user input).
    pub fn pairs(first: &'static str, second: &'static str, n: usize) -> Fragment {
        let mut rows = vec![format!("SELECT ? AS {first}, ? AS {second}")];
        rows.extend(std::iter::repeat_n("SELECT ?, ?".to_string(), n.saturating_sub(1)));
        Fragment(rows.join(" UNION ALL "))
    }

    /// A bound value taken into a character set and collation: `CONVERT(CONVERT(CAST(? AS
    /// BINARY) USING utf8mb4) USING cs) COLLATE coll`, the value's UTF-8 bytes read as
    /// utf8mb4 and converted from there.
    pub fn converted_value(charset: &Ident, collation: &Ident) -> Fragment {
        Fragment(format!(
            "CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {}) COLLATE {}",
            charset.as_str(),
            collation.as_str()
        ))
    }

    /// `f, f, f`: `n` copies of a fragment, comma-separated (a select list).
    pub fn list(f: &Fragment, n: usize) -> Fragment {
        Fragment(vec![f.as_str(); n].join(", "))
    }

    /// A binary string literal, `X'0209'`, of bytes the server reported (a collation's
    /// weight of a space): hex digits only, so nothing in it can be read as SQL. Constant in
    /// a statement, it is evaluated once, where a bound `CAST(? AS BINARY)` is cast again
    /// for every row.
    pub fn hex(bytes: &[u8]) -> Fragment {
        Fragment(format!("X'{}'", bytes.iter().map(|b| format!("{b:02X}")).collect::<String>()))
    }

    /// A validated name written bare, where SQL wants a word (a character set or collation).
    pub fn word(name: &Ident) -> Fragment {
        Fragment(name.as_str().to_string())
    }

    /// Column definitions `name type ...` whose type text comes from `information_schema`
    /// (`COLUMN_TYPE`, as the server itself prints it). Built by `archive` only.
    pub fn definitions(defs: Vec<(Ident, String)>) -> Fragment {
        Fragment(defs.into_iter().map(|(n, d)| format!("{} {d}", n.quoted())).collect::<Vec<_>>().join(",\n  "))
    }

    /// A piece of SQL from a file under `sql/` (a compile-time constant, never a value),
    /// without its comment lines.
    pub fn sql(text: &'static str) -> Fragment {
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("--")).collect();
        Fragment(lines.join(" "))
    }

    /// A piece of SQL from a file under `sql/`, as `sql`, with its `{name}` slots filled
    /// with other fragments.
    pub fn sql_with(text: &'static str, parts: &[(&str, &Fragment)]) -> Fragment {
        let mut out = Fragment::sql(text).0;
        for (name, part) in parts {
            out = out.replace(&format!("{{{name}}}"), part.as_str());
        }
        Fragment(out)
    }

    /// A column type as `information_schema.COLUMNS.COLUMN_TYPE` reports it (plus
    /// `CHARACTER SET`/`COLLATE` words from the same source).
    pub fn column_type(server_text: &str) -> Fragment {
        Fragment(server_text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `render`, plus `{name}` placeholders filled with fragments (column lists, `?` lists).
pub fn render_parts(template: &str, idents: &[(&str, &Ident)], parts: &[(&str, &Fragment)]) -> String {
    let mut out = render(template, idents);
    for (name, part) in parts {
        out = out.replace(&format!("{{{name}}}"), part.as_str());
    }
    out
}
/// `statement` with each `?` mark replaced by its value written as an SQL literal: for the
/// batch transactions on Galera, whose statements are sent as plain text queries, never
/// prepared on the server (a transaction that another node's write aborted while one of its
/// statements was being prepared can lose the abort: issue 18, docs/cluster.md). Marks in
/// comments (`-- `, `#`, `/* */`), in quoted strings and in backtick-quoted names are text,
/// not marks. Numbers are written as digits; strings by the driver's own escaping
/// (`mysql::Value::as_sql`), which must know whether the session's sql_mode has
/// NO_BACKSLASH_ESCAPES. A string literal takes the connection's character set and
/// collation exactly as a bound value does, so comparisons behave alike. Fails when the
/// marks and the values differ in number. Pure.
pub fn inline(statement: &str, values: &[mysql::Value], no_backslash_escapes: bool) -> anyhow::Result<String> {
    let mut out = String::with_capacity(statement.len() + values.len() * 40);
    let mut next = values.iter();
    let mut marks = 0usize;
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '?' => {
                out.pop();
                marks += 1;
                match next.next() {
                    Some(v) => out += &v.as_sql(no_backslash_escapes),
                    None => anyhow::bail!("statement has more ? marks than the {} values given", values.len()),
                }
            }
            '\'' | '"' | '`' => {
                // Copy up to the closing quote; a doubled quote stays inside, and so does a
                // backslash-escaped one in a string unless NO_BACKSLASH_ESCAPES.
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' && c != '`' && !no_backslash_escapes {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c {
                        if chars.peek() == Some(&c) {
                            out.push(chars.next().unwrap());
                        } else {
                            break;
                        }
                    }
                }
            }
            '#' => copy_line(&mut chars, &mut out),
            '-' if chars.peek() == Some(&'-') => {
                out.push(chars.next().unwrap());
                if chars.peek().is_none_or(|n| n.is_whitespace()) {
                    copy_line(&mut chars, &mut out);
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(chars.next().unwrap());
                let mut last = ' ';
                for d in chars.by_ref() {
                    out.push(d);
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            _ => {}
        }
    }
    if marks != values.len() {
        anyhow::bail!("statement has {marks} ? marks for {} values", values.len());
    }
    Ok(out)
}

/// Copies the rest of a line comment, its newline included.
fn copy_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    for d in chars.by_ref() {
        out.push(d);
        if d == '\n' {
            break;
        }
    }
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
    fn fragments() {
        let id = Ident::new("column", "id").unwrap();
        let cols = Fragment::columns(&[id.clone(), Ident::new("column", "status").unwrap()]);
        let t = Ident::new("table", "msgs").unwrap();
        let sql = render_parts(
            "SELECT {columns} FROM {table} WHERE id IN ({ids})",
            &[("table", &t)],
            &[("columns", &cols), ("ids", &Fragment::placeholders(3))],
        );
        assert_eq!(sql, "SELECT `id`, `status` FROM `msgs` WHERE id IN (?, ?, ?)");
        assert_eq!(Fragment::qualified_columns("s", &[id]).as_str(), "s.`id`");
        assert_eq!(Fragment::pairs("v", "k", 2).as_str(), "SELECT ? AS v, ? AS k UNION ALL SELECT ?, ?");
        assert_eq!(Fragment::sql("-- why\n  a, b\n-- more\n c\n").as_str(), "a, b c");
        let k_id = Fragment::qualified_columns("k", &[Ident::new("column", "id").unwrap()]);
        let filled = Fragment::sql_with("-- why\nCAST({x} AS SIGNED)\n", &[("x", &k_id)]);
        assert_eq!(filled.as_str(), "CAST(k.`id` AS SIGNED)");
    }

    #[test]
    fn repeat_fills_marks() {
        assert_eq!(repeat("x IN ({ids})", "ids", "?", 3), "x IN (?, ?, ?)");
        assert_eq!(repeat("VALUES {rows}", "rows", "(?, NOW())", 2), "VALUES (?, NOW()), (?, NOW())");
    }

    #[test]
    fn inline_writes_each_value_as_a_literal_and_leaves_comments_and_quotes_alone() {
        use mysql::Value;
        let sql = "-- why? because\nSELECT ? AS a, '?' AS b, `c?` # ?\nFROM t /* ? */ WHERE id IN (?, ?) AND x = ?";
        let values = [Value::from("r'1"), Value::from(7u64), Value::from(-3i64), Value::NULL];
        assert_eq!(
            inline(sql, &values, false).unwrap(),
            "-- why? because\nSELECT 'r\\'1' AS a, '?' AS b, `c?` # ?\nFROM t /* ? */ WHERE id IN (7, -3) AND x = NULL"
        );
        // Under NO_BACKSLASH_ESCAPES a quote is doubled and a backslash is a plain character.
        let values = [Value::from("a\\'b?")];
        assert_eq!(inline("x = ?", &values, true).unwrap(), "x = 'a\\''b?'");
        assert_eq!(inline("x = ?", &values, false).unwrap(), "x = 'a\\\\\\'b?'");
        // A quoted string holding escapes does not end early.
        assert_eq!(inline("'it\\'s ?' = ?", &[Value::from(1u64)], false).unwrap(), "'it\\'s ?' = 1");
        assert_eq!(inline("'it''s ?' = ?", &[Value::from(1u64)], true).unwrap(), "'it''s ?' = 1");
        // `--` without a space is not a comment (`1--?` is 1 minus minus a value).
        assert_eq!(inline("SELECT 1--?", &[Value::from(2u64)], false).unwrap(), "SELECT 1--2");
    }

    #[test]
    fn inline_refuses_marks_and_values_that_do_not_pair_up() {
        use mysql::Value;
        assert!(inline("a = ? AND b = ?", &[Value::from(1u64)], false).is_err());
        assert!(inline("a = ?", &[Value::from(1u64), Value::from(2u64)], false).is_err());
        assert!(inline("-- ?\na = 1", &[Value::from(1u64)], false).is_err());
    }
}
