//! The pure half of `migrate`: which migrations to apply given the embedded ones and the
//! recorded history, the checksum that pins a migration's text, the key-length rule, what
//! an existing index means, the retry backoff, and what a Galera node means for the DDL.
//! No I/O; unit tests use plain values.
use std::hash::Hasher;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::schema::{Column, Index, KEY_COLUMNS, UNIQUE_INDEX_NAME};

/// One embedded migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub up: &'static str,
    pub down: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        checksum(self.up)
    }

    pub fn label(&self) -> String {
        format!("migration {} ({})", self.version, self.name)
    }
}

/// The migrations compiled into this seqfix, in version order.
pub fn embedded() -> Vec<Migration> {
    crate::sql::MIGRATIONS.iter().map(|&(version, name, up, down)| Migration { version, name, up, down }).collect()
}

/// The checksum recorded for a migration: SipHash-1-3 with both keys zero over the UTF-8
/// bytes of the *up template* (with `{table}` unfilled, so it is the same for every table),
/// after replacing each `\r\n` by `\n` (a checkout with Windows line endings must not count as
/// a change), written as 16 lowercase hex digits. The algorithm is fixed here rather than
/// taken from std's `DefaultHasher`, whose algorithm may change between Rust releases.
/// The down template is not covered: editing it does not change what was applied.
pub fn checksum(template: &str) -> String {
    let text = template.replace("\r\n", "\n");
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    h.write(text.as_bytes());
    format!("{:016x}", h.finish())
}

/// One row of `seqfix_schema_history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub success: bool,
    pub installed_by: String,
    pub host: String,
    pub seqfix_version: String,
    pub execution_ms: Option<u64>,
    pub error: Option<String>,
}

/// Where a migration stands according to the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No row: to be applied.
    Pending,
    /// Finished successfully.
    Applied,
    /// Started and never finished: the process died during the DDL. The schema decides.
    Unfinished,
    /// Finished with an error (the server rolled the DDL back): to be applied again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub migration: Migration,
    pub state: State,
    pub row: Option<HistoryRow>,
}

/// The state a history row (or its absence) stands for.
pub fn state_of(row: Option<&HistoryRow>) -> State {
    match row {
        None => State::Pending,
        Some(r) if r.success => State::Applied,
        Some(r) if r.finished_at.is_none() => State::Unfinished,
        Some(_) => State::Failed,
    }
}

/// Matches the history against the embedded migrations. Errors, naming the migration, when
/// an applied migration's text changed since (checksum mismatch), when the history holds a
/// version this seqfix does not know (applied by a newer seqfix), or when a pending
/// migration precedes an applied one. Failed or unfinished rows are not checked against the
/// checksum: they are applied again with the current text.
pub fn plan(migrations: &[Migration], history: &[HistoryRow]) -> Result<Vec<Entry>> {
    if let Some(unknown) = history.iter().find(|r| !migrations.iter().any(|m| m.version == r.version)) {
        bail!(
            "the migration history records migration {} ({}), which this seqfix {} does not know: it was applied by a newer seqfix; use that version",
            unknown.version,
            unknown.name,
            env!("CARGO_PKG_VERSION")
        );
    }
    let mut entries = Vec::new();
    for m in migrations {
        let row = history.iter().find(|r| r.version == m.version).cloned();
        let state = state_of(row.as_ref());
        if let (State::Applied, Some(r)) = (state, &row) {
            let want = m.checksum();
            if r.checksum != want {
                bail!(
                    "{} was applied with checksum {} but the text compiled into this seqfix has checksum {want}: the migration was modified after it was applied (or the history was edited); restore the original migration or investigate before migrating",
                    m.label(),
                    r.checksum
                );
            }
        }
        entries.push(Entry { migration: *m, state, row });
    }
    if let Some(last_applied) = entries.iter().rposition(|e| e.state == State::Applied) {
        if let Some(gap) = entries[..last_applied].iter().find(|e| e.state != State::Applied) {
            bail!(
                "{} is not applied but the later {} is: the history is out of order; apply migrations in order",
                gap.migration.label(),
                entries[last_applied].migration.label()
            );
        }
    }
    Ok(entries)
}

/// Bytes one character may take in a character set (the server's `MAXLEN`). Unknown sets
/// count as 4, the most any MySQL/MariaDB character set uses, so the check errs on the safe side.
pub fn bytes_per_char(charset: &str) -> u64 {
    match charset.to_ascii_lowercase().as_str() {
        "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => 4,
        "utf8mb3" | "utf8" | "ujis" | "eucjpms" => 3,
        "ucs2" | "big5" | "sjis" | "cp932" | "gbk" | "gb2312" | "euckr" => 2,
        "latin1" | "latin2" | "latin5" | "latin7" | "ascii" | "binary" | "cp1250" | "cp1251" | "cp1256" | "cp1257"
        | "cp850" | "cp852" | "cp866" | "dec8" | "greek" | "hebrew" | "hp8" | "keybcs2" | "koi8r" | "koi8u"
        | "macce" | "macroman" | "swe7" | "tis620" | "armscii8" | "geostd8" | "armscii" => 1,
        _ => 4,
    }
}

/// InnoDB's limit on one column of an index key, by row format: 3072 bytes for DYNAMIC and
/// COMPRESSED (large prefixes), 767 for REDUNDANT and COMPACT. An unknown format gets 767.
pub fn column_key_limit(row_format: Option<&str>) -> u64 {
    match row_format.map(|f| f.to_ascii_lowercase()) {
        Some(f) if f == "dynamic" || f == "compressed" => 3072,
        _ => 767,
    }
}

/// InnoDB's limit on a whole index key (16 KiB pages).
pub const INDEX_KEY_LIMIT: u64 = 3072;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyLength {
    /// (column, bytes)
    pub columns: Vec<(String, u64)>,
    pub total: u64,
    pub column_limit: u64,
    pub index_limit: u64,
}

impl KeyLength {
    pub fn problem(&self) -> Option<String> {
        let too_long: Vec<String> = self
            .columns
            .iter()
            .filter(|(_, b)| *b > self.column_limit)
            .map(|(c, b)| format!("{c} takes {b} bytes, over the {} bytes allowed per key column", self.column_limit))
            .collect();
        if !too_long.is_empty() {
            return Some(too_long.join("; "));
        }
        if self.total > self.index_limit {
            return Some(format!(
                "the key takes {} bytes, over InnoDB's {} bytes per index",
                self.total, self.index_limit
            ));
        }
        None
    }
}

/// The key length of the unique index from the column definitions: maximum characters ×
/// bytes per character of the column's character set.
pub fn key_length(columns: &[Column], row_format: Option<&str>) -> KeyLength {
    let cols: Vec<(String, u64)> = KEY_COLUMNS
        .iter()
        .map(|name| {
            let bytes = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.max_chars.unwrap_or(0) * bytes_per_char(c.charset.as_deref().unwrap_or("")))
                .unwrap_or(0);
            (name.to_string(), bytes)
        })
        .collect();
    let total = cols.iter().map(|(_, b)| b).sum();
    KeyLength { columns: cols, total, column_limit: column_key_limit(row_format), index_limit: INDEX_KEY_LIMIT }
}

/// What the table's existing indexes mean for the unique index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexVerdict {
    /// No equivalent index: the migration must build it.
    Absent,
    /// A unique index on exactly the three columns exists (under this name).
    Present { name: String },
    /// An index named `unique_sequence_message` exists with another definition.
    Conflict { definition: String },
}

/// Human-readable definition of an index, e.g. `UNIQUE (a, b(10))`.
pub fn describe_index(ix: &Index) -> String {
    let cols: Vec<String> = ix
        .columns
        .iter()
        .map(|(c, p)| match p {
            Some(n) => format!("{c}({n})"),
            None => c.clone(),
        })
        .collect();
    format!("{}({})", if ix.unique { "UNIQUE " } else { "" }, cols.join(", "))
}

/// Judges the existing indexes. The index is "the same" when it is unique, unprefixed and on
/// exactly the three key columns: the column order changes nothing about which rows it allows.
/// One by that name with any other definition is a conflict (the migration's name is taken).
pub fn index_verdict(indexes: &[Index]) -> IndexVerdict {
    if let Some(named) = indexes.iter().find(|i| i.name.eq_ignore_ascii_case(UNIQUE_INDEX_NAME)) {
        return if named.is_unique_key_index() {
            IndexVerdict::Present { name: named.name.clone() }
        } else {
            IndexVerdict::Conflict { definition: describe_index(named) }
        };
    }
    match indexes.iter().find(|i| i.is_unique_key_index()) {
        Some(ix) => IndexVerdict::Present { name: ix.name.clone() },
        None => IndexVerdict::Absent,
    }
}

/// Non-unique indexes on exactly the key columns: redundant once the unique index exists.
pub fn redundant_indexes(indexes: &[Index]) -> Vec<String> {
    indexes
        .iter()
        .filter(|i| !i.unique && i.columns.len() == KEY_COLUMNS.len())
        .filter(|i| Index { unique: true, ..(*i).clone() }.is_unique_key_index())
        .map(|i| i.name.clone())
        .collect()
}

/// Wait before retry `attempt` (1-based) after a lock-wait timeout: 0.5 s doubling, at most 30 s.
/// The ALTER holds no lock while it sleeps, so the application runs freely in between.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(30_000))
}

/// `lock_wait_timeout` takes whole seconds (at least 1); round a duration up.
pub fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// Whether `migrate` (up, or `--down`) would run a DDL statement: up builds when the index
/// is absent (a conflicting index is an error, a present one is only recorded); down drops
/// seqfix's own index when a migration is recorded as applied. On Galera only a DDL stalls the
/// cluster, so only then does `migrate` refuse without `--galera-toi`.
pub fn needs_ddl(down: bool, entries: &[Entry], indexes: &[Index]) -> bool {
    if down {
        entries.iter().any(|e| e.state == State::Applied)
            && indexes.iter().any(|i| i.name.eq_ignore_ascii_case(UNIQUE_INDEX_NAME))
    } else {
        !entries.is_empty() && index_verdict(indexes) == IndexVerdict::Absent
    }
}

/// What the DDL does to a Galera cluster, measured (issue 18, a 3-node MariaDB 10.11 cluster).
fn galera_consequence(size: u64, down: bool, estimated_rows: u64) -> String {
    if down {
        format!(
            "this server is a node of a {size}-node Galera cluster: the DROP INDEX runs as Total Order Isolation, so every write on every node waits until it is done (a metadata change, but it first waits for the transactions open on the table) and open transactions on other nodes that touch the table are aborted"
        )
    } else {
        format!(
            "this server is a node of a {size}-node Galera cluster: the ALTER runs as Total Order Isolation, so every write on every node waits for the whole index build (measured 1.5 s at 93k rows and 23 s at 925k; this table has about {estimated_rows} rows) and open transactions on other nodes are aborted"
        )
    }
}

/// The refusal of a DDL on a Galera node without `--galera-toi`, in one line: the measured
/// consequence and the two ways forward. Never RSU: a node that has the unique index aborts on
/// a duplicate that a node without it (RSU builds one node at a time) accepted, and is expelled.
pub fn galera_refusal(size: u64, down: bool, estimated_rows: u64) -> String {
    let other_way = if down {
        ""
    } else {
        ", or follow docs/cluster.md (pt-online-schema-change, which builds a copy with the index and swaps it in)"
    };
    format!(
        "{}; pass --galera-toi to accept that in a maintenance window{other_way}; seqfix never uses RSU (a duplicate written on a node without the index would expel the node that has it); nothing was changed",
        galera_consequence(size, down, estimated_rows)
    )
}

/// The preflight line of a DDL that `--galera-toi` lets run on a Galera node.
pub fn galera_warning(size: u64, down: bool, estimated_rows: u64) -> String {
    format!(
        "{} (accepted with --galera-toi; the session runs it with wsrep_OSU_method = TOI)",
        galera_consequence(size, down, estimated_rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: u32, up: &'static str) -> Migration {
        Migration { version, name: "m", up, down: "" }
    }

    fn row(version: u32, checksum: &str, success: bool, finished: bool) -> HistoryRow {
        HistoryRow {
            version,
            name: "m".into(),
            checksum: checksum.into(),
            started_at: "2026-01-01 00:00:00".into(),
            finished_at: finished.then(|| "2026-01-01 00:00:01".into()),
            success,
            installed_by: "root@%".into(),
            host: "h".into(),
            seqfix_version: "0.1.0".into(),
            execution_ms: None,
            error: None,
        }
    }

    #[test]
    fn checksum_is_pinned_and_ignores_line_endings() {
        // SipHash-1-3, zero keys, of the empty input: a fixed value; if this changes, every
        // recorded checksum would stop matching.
        assert_eq!(checksum(""), "d1fba762150c532c");
        assert_eq!(checksum("ALTER TABLE {table}\r\nADD x"), checksum("ALTER TABLE {table}\nADD x"));
        assert_ne!(checksum("a"), checksum("b"));
        assert_eq!(checksum("x").len(), 16);
    }

    #[test]
    fn states_from_history() {
        let ms = [m(1, "one"), m(2, "two"), m(3, "three")];
        let h = [row(1, &checksum("one"), true, true), row(2, &checksum("two"), false, false)];
        let p = plan(&ms, &h).unwrap();
        let states: Vec<State> = p.iter().map(|e| e.state).collect();
        assert_eq!(states, [State::Applied, State::Unfinished, State::Pending]);
        let p = plan(&ms, &[row(1, "whatever", false, true)]).unwrap();
        assert_eq!(p[0].state, State::Failed, "a failed row is applied again, whatever its checksum");
        assert!(plan(&ms, &[]).unwrap().iter().all(|e| e.state == State::Pending));
    }

    #[test]
    fn changed_text_is_an_error_naming_the_migration() {
        let ms = [Migration { version: 1, name: "unique_sequence_message", up: "new text", down: "" }];
        let err = plan(&ms, &[row(1, &checksum("old text"), true, true)]).unwrap_err().to_string();
        assert!(err.contains("migration 1 (unique_sequence_message)"), "{err}");
        assert!(err.contains(&checksum("old text")) && err.contains(&checksum("new text")), "{err}");
    }

    #[test]
    fn unknown_and_out_of_order_history_is_an_error() {
        let ms = [m(1, "one"), m(2, "two")];
        let err = plan(&ms, &[row(7, "x", true, true)]).unwrap_err().to_string();
        assert!(err.contains("migration 7") && err.contains("newer seqfix"), "{err}");
        let err = plan(&ms, &[row(2, &checksum("two"), true, true)]).unwrap_err().to_string();
        assert!(err.contains("migration 1") && err.contains("out of order"), "{err}");
    }

    #[test]
    fn embedded_migrations_are_ordered_and_templated() {
        let ms = embedded();
        assert!(ms.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(ms[0].version, 1);
        assert!(ms.iter().all(|m| m.up.contains("{table}") && m.down.contains("{table}")));
        assert!(ms[0].up.contains("ALGORITHM=INPLACE, LOCK=NONE"));
    }

    fn col(name: &str, max: u64, cs: &str) -> Column {
        Column {
            name: name.into(),
            data_type: "varchar".into(),
            column_type: format!("varchar({max})"),
            nullable: false,
            charset: Some(cs.into()),
            collation: None,
            max_chars: Some(max),
            generated: false,
        }
    }

    #[test]
    fn key_length_of_the_production_columns() {
        let cols = [
            col("sequence_stepid", 36, "utf8mb4"),
            col("recipient_phone", 50, "utf8mb4"),
            col("device_id", 36, "utf8mb4"),
        ];
        let k = key_length(&cols, Some("Dynamic"));
        assert_eq!(k.total, 144 + 200 + 144);
        assert_eq!(k.problem(), None);
        // A wide phone column in COMPACT format: 255 chars × 4 bytes = 1020 > 767.
        let wide = [
            col("sequence_stepid", 36, "utf8mb4"),
            col("recipient_phone", 255, "utf8mb4"),
            col("device_id", 36, "utf8mb4"),
        ];
        let p = key_length(&wide, Some("Compact")).problem().unwrap();
        assert!(p.contains("recipient_phone takes 1020 bytes") && p.contains("767"), "{p}");
        assert_eq!(key_length(&wide, Some("DYNAMIC")).problem(), None);
        // Over the whole-key limit.
        let huge = [
            col("sequence_stepid", 700, "utf8mb4"),
            col("recipient_phone", 700, "utf8mb4"),
            col("device_id", 36, "utf8mb4"),
        ];
        assert!(key_length(&huge, Some("Dynamic")).problem().unwrap().contains("3072 bytes per index"));
        assert_eq!(key_length(&[col("sequence_stepid", 36, "latin1")], None).columns[0].1, 36);
        assert_eq!(bytes_per_char("utf8mb3"), 3);
        assert_eq!(bytes_per_char("something_new"), 4);
    }

    fn ix(name: &str, unique: bool, cols: &[&str]) -> Index {
        Index { name: name.into(), unique, columns: cols.iter().map(|c| (c.to_string(), None)).collect() }
    }

    #[test]
    fn existing_indexes() {
        let key = ["sequence_stepid", "recipient_phone", "device_id"];
        assert_eq!(index_verdict(&[ix("PRIMARY", true, &["id"])]), IndexVerdict::Absent);
        assert_eq!(
            index_verdict(&[ix("unique_sequence_message", true, &key)]),
            IndexVerdict::Present { name: "unique_sequence_message".into() }
        );
        assert_eq!(
            index_verdict(&[ix("by_hand", true, &["device_id", "sequence_stepid", "recipient_phone"])]),
            IndexVerdict::Present { name: "by_hand".into() }
        );
        assert_eq!(
            index_verdict(&[ix("unique_sequence_message", false, &key), ix("other", true, &key)]),
            IndexVerdict::Conflict { definition: "(sequence_stepid, recipient_phone, device_id)".into() }
        );
        let mut prefixed = ix("unique_sequence_message", true, &key);
        prefixed.columns[1].1 = Some(10);
        assert_eq!(
            index_verdict(&[prefixed]),
            IndexVerdict::Conflict { definition: "UNIQUE (sequence_stepid, recipient_phone(10), device_id)".into() }
        );
        assert_eq!(redundant_indexes(&[ix("plain", false, &key), ix("two", false, &key[..2])]), ["plain"]);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(30));
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(10)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(5)), 5);
    }

    #[test]
    fn only_a_ddl_stalls_a_galera_cluster() {
        let m1 = m(1, "x");
        let applied = Entry { migration: m1, state: State::Applied, row: Some(row(1, &m1.checksum(), true, true)) };
        let pending = Entry { migration: m1, state: State::Pending, row: None };
        let ours = [ix(UNIQUE_INDEX_NAME, true, &KEY_COLUMNS)];
        let by_hand = [ix("uq_by_hand", true, &KEY_COLUMNS)];
        // up: builds only when the index is absent
        let (pending, applied) = (std::slice::from_ref(&pending), std::slice::from_ref(&applied));
        assert!(needs_ddl(false, pending, &[]));
        assert!(!needs_ddl(false, pending, &ours), "present: only recorded");
        assert!(!needs_ddl(false, pending, &by_hand), "present under another name: only recorded");
        assert!(needs_ddl(false, applied, &[]), "recorded but dropped: built again");
        assert!(!needs_ddl(false, &[], &[]));
        // down: drops seqfix's own index of an applied migration
        assert!(needs_ddl(true, applied, &ours));
        assert!(!needs_ddl(true, applied, &[]), "already gone: only the history row goes");
        assert!(!needs_ddl(true, pending, &ours), "nothing applied: nothing to revert");
    }

    #[test]
    fn the_galera_refusal_states_the_stall_and_the_ways_forward() {
        let up = galera_refusal(3, false, 925_000);
        for part in [
            "3-node Galera cluster",
            "Total Order Isolation",
            "every write on every node waits for the whole index build",
            "23 s at 925k",
            "about 925000 rows",
            "open transactions on other nodes are aborted",
            "--galera-toi",
            "docs/cluster.md (pt-online-schema-change",
            "never uses RSU",
            "nothing was changed",
        ] {
            assert!(up.contains(part), "{part:?} missing from {up}");
        }
        assert!(!up.contains('\n'));
        let down = galera_refusal(3, true, 10);
        assert!(down.contains("DROP INDEX runs as Total Order Isolation") && down.contains("--galera-toi"), "{down}");
        assert!(!down.contains("pt-online-schema-change"), "{down}");
        assert!(galera_warning(5, false, 7).contains("5-node") && galera_warning(5, false, 7).contains("--galera-toi"));
    }
}
