//! What the tables must look like, and the check that says precisely what is missing
//! before any work starts. Everything is read from `information_schema`, so it works for a
//! user with only SELECT on the table.
use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;

use crate::db::Db;
use crate::ident::Ident;

/// The unique index that ends the duplicates, by name and columns.
pub const UNIQUE_INDEX_NAME: &str = "unique_sequence_message";
pub const KEY_COLUMNS: [&str; 3] = ["sequence_stepid", "recipient_phone", "device_id"];

/// Broad type classes a column may need to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CHAR or VARCHAR (indexable without a prefix).
    ShortText,
    /// CHAR, VARCHAR, TEXT types or ENUM.
    AnyText,
    /// TIMESTAMP or DATETIME.
    Temporal,
    /// Any integer type.
    Integer,
    /// Integer types, including TINYINT(1) booleans.
    Flag,
}

impl Kind {
    fn accepts(self, data_type: &str) -> bool {
        let t = data_type.to_ascii_lowercase();
        match self {
            Kind::ShortText => matches!(t.as_str(), "char" | "varchar"),
            Kind::AnyText => {
                matches!(t.as_str(), "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum")
            }
            Kind::Temporal => matches!(t.as_str(), "timestamp" | "datetime"),
            Kind::Integer | Kind::Flag => {
                matches!(t.as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint")
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::ShortText => "CHAR or VARCHAR",
            Kind::AnyText => "a character type",
            Kind::Temporal => "TIMESTAMP or DATETIME",
            Kind::Integer => "an integer type",
            Kind::Flag => "an integer or boolean type",
        }
    }
}

/// A column an operation needs, and why (the reason goes into the error message).
#[derive(Debug, Clone, Copy)]
pub struct ColumnReq {
    pub name: &'static str,
    pub kind: Kind,
    pub why: &'static str,
}

const fn req(name: &'static str, kind: Kind, why: &'static str) -> ColumnReq {
    ColumnReq { name, kind, why }
}

/// What `audit` and `dedupe` need of the messages table.
pub const MESSAGE_COLUMNS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to identify each message"),
    req("sequence_stepid", Kind::ShortText, "to find duplicate sequence messages"),
    req("recipient_phone", Kind::ShortText, "to find duplicate sequence messages"),
    req("device_id", Kind::ShortText, "to find duplicate sequence messages"),
    req("sequence_id", Kind::ShortText, "to report duplicates by sequence"),
    req(
        "status",
        Kind::AnyText,
        "to keep the copy that was sent (--keep sent-first) and to report what the duplicates are",
    ),
    req("created_at", Kind::Temporal, "to choose which copy to keep"),
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub charset: Option<String>,
    pub collation: Option<String>,
    pub max_chars: Option<u64>,
    /// The server computes the column (`GENERATED ALWAYS AS ...`): it can be read and
    /// archived, but a value cannot be written into it.
    pub generated: bool,
}

/// A row of `sql/schema/columns.sql`, in its column order.
type ColumnRow = (String, String, String, String, Option<String>, Option<String>, Option<u64>, bool);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    /// (column, prefix length); the column is "" for a functional key part (an expression)
    pub columns: Vec<(String, Option<u64>)>,
}

impl TableInfo {
    /// Whether some unique index (the primary key, usually) is on `id` alone, unprefixed.
    pub fn has_unique_id(&self) -> bool {
        self.indexes.iter().any(|ix| {
            ix.unique
                && ix.columns.len() == 1
                && ix.columns[0].0.eq_ignore_ascii_case("id")
                && ix.columns[0].1.is_none()
        })
    }
}

impl Index {
    /// True for a unique index on exactly the three key columns (in any order), unprefixed.
    pub fn is_unique_key_index(&self) -> bool {
        let mut cols: Vec<String> = self.columns.iter().map(|(c, _)| c.to_ascii_lowercase()).collect();
        cols.sort();
        let mut want: Vec<&str> = KEY_COLUMNS.to_vec();
        want.sort();
        self.unique && self.columns.iter().all(|(_, p)| p.is_none()) && cols == want
    }
}

/// A table as the server describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableInfo {
    pub name: String,
    pub engine: String,
    pub collation: Option<String>,
    pub row_format: Option<String>,
    /// The storage engine's estimate, for progress bars only.
    pub estimated_rows: u64,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The unique index on the three key columns, whatever its name.
    pub fn unique_key_index(&self) -> Option<&Index> {
        self.indexes.iter().find(|i| i.is_unique_key_index())
    }

    /// The table's character set, derived from its collation (`utf8mb4_unicode_ci` → `utf8mb4`).
    pub fn charset(&self) -> Option<String> {
        self.collation.as_ref().and_then(|c| c.split('_').next()).map(str::to_string)
    }
}

/// Reads a table's description; `Ok(None)` when there is no such table.
pub fn describe(db: &mut Db, table: &Ident) -> Result<Option<TableInfo>> {
    let ctx = || format!("cannot read the definition of table {} from information_schema", table);
    #[allow(clippy::type_complexity)]
    let row: Option<(String, Option<String>, Option<String>, Option<String>, Option<u64>)> =
        db.conn.exec_first(crate::sql::TABLE_INFO, (table.as_str(),)).with_context(ctx)?;
    let Some((table_type, engine, collation, row_format, estimated)) = row else { return Ok(None) };
    if table_type.eq_ignore_ascii_case("VIEW") {
        bail!("{}.{} is a view; seqfix needs the base table (check --table)", db.database, table);
    }
    let columns = db
        .conn
        .exec_map(
            crate::sql::COLUMNS,
            (table.as_str(),),
            |(name, data_type, column_type, nullable, charset, collation, max_chars, generated): ColumnRow| Column {
                name,
                data_type,
                column_type,
                nullable: nullable == "YES",
                charset,
                collation,
                max_chars,
                generated,
            },
        )
        .with_context(ctx)?;
    let mut indexes: Vec<Index> = Vec::new();
    type IndexRow = (String, i64, i64, Option<String>, Option<u64>);
    let index_rows: Vec<IndexRow> = db.conn.exec(crate::sql::INDEXES, (table.as_str(),)).with_context(ctx)?;
    for (name, non_unique, _seq, column, sub_part) in index_rows {
        // A functional key part (MySQL 8.0.13+, `INDEX ((LOWER(c)))`) has no column name:
        // it is kept as the empty name, which no column can have, so it matches none.
        let column = column.unwrap_or_default();
        match indexes.last_mut() {
            Some(ix) if ix.name == name => ix.columns.push((column, sub_part)),
            _ => indexes.push(Index { name, unique: non_unique == 0, columns: vec![(column, sub_part)] }),
        }
    }
    Ok(Some(TableInfo {
        name: table.as_str().to_string(),
        engine: engine.unwrap_or_default(),
        collation,
        row_format,
        estimated_rows: estimated.unwrap_or(0),
        columns,
        indexes,
    }))
}

/// Checks that `table` exists, is InnoDB and has `required` columns of the right kinds.
/// The error names every problem at once, in one line, so one fix round is enough.
pub fn check(db: &mut Db, table: &Ident, required: &[ColumnReq]) -> Result<TableInfo> {
    let Some(info) = describe(db, table)? else {
        bail!(
            "table {}.{} does not exist (check --table and the database in the URL, and that the user may see it)",
            db.database,
            table
        );
    };
    if let Some(problem) = problems(&info, required) {
        bail!("table {}.{} {problem}", db.database, table);
    }
    Ok(info)
}

/// The pure half of `check`: what is wrong with a described table, if anything.
pub fn problems(info: &TableInfo, required: &[ColumnReq]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    if !info.engine.eq_ignore_ascii_case("InnoDB") {
        out.push(format!(
            "uses the {} engine; seqfix needs InnoDB for transactions and online index builds (ALTER TABLE ... ENGINE=InnoDB first)",
            if info.engine.is_empty() { "unknown" } else { &info.engine }
        ));
    }
    for r in required {
        match info.column(r.name) {
            None => out.push(format!("has no column {} (seqfix needs it {})", r.name, r.why)),
            Some(c) if !r.kind.accepts(&c.data_type) => out.push(format!(
                "has column {} of type {}, but seqfix needs {} {}",
                r.name,
                c.column_type,
                r.kind.describe(),
                r.why
            )),
            Some(_) => {}
        }
    }
    // Rows are locked, archived, deleted and restored by id: two rows sharing one would be
    // handled as one.
    if required.iter().any(|r| r.name == "id") && info.column("id").is_some() && !info.has_unique_id() {
        out.push(
            "has no primary key or unique index on id alone; seqfix finds, archives and deletes rows by id \
             (ALTER TABLE ... ADD PRIMARY KEY (id) first)"
                .to_string(),
        );
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            data_type: ty.into(),
            column_type: ty.into(),
            nullable: true,
            charset: None,
            collation: None,
            max_chars: None,
            generated: false,
        }
    }

    fn table(engine: &str, cols: Vec<Column>) -> TableInfo {
        TableInfo {
            name: "t".into(),
            engine: engine.into(),
            collation: Some("utf8mb4_unicode_ci".into()),
            row_format: None,
            estimated_rows: 0,
            columns: cols,
            indexes: vec![Index { name: "PRIMARY".into(), unique: true, columns: vec![("id".into(), None)] }],
        }
    }

    fn good_columns() -> Vec<Column> {
        vec![
            col("id", "char"),
            col("sequence_stepid", "char"),
            col("recipient_phone", "varchar"),
            col("device_id", "char"),
            col("sequence_id", "char"),
            col("status", "varchar"),
            col("created_at", "timestamp"),
        ]
    }

    #[test]
    fn accepts_the_production_shape() {
        assert_eq!(problems(&table("InnoDB", good_columns()), MESSAGE_COLUMNS), None);
        assert_eq!(table("InnoDB", vec![]).charset().as_deref(), Some("utf8mb4"));
    }

    #[test]
    fn ids_must_be_unique() {
        let mut t = table("InnoDB", good_columns());
        t.indexes.clear();
        let p = problems(&t, MESSAGE_COLUMNS).unwrap();
        assert!(p.contains("no primary key or unique index on id alone"), "{p}");
        // a non-unique index on id, a unique one on (id, x) or on a prefix of id: still not unique by id
        t.indexes.push(Index { name: "ix".into(), unique: false, columns: vec![("id".into(), None)] });
        t.indexes.push(Index {
            name: "ux".into(),
            unique: true,
            columns: vec![("id".into(), None), ("status".into(), None)],
        });
        t.indexes.push(Index { name: "px".into(), unique: true, columns: vec![("id".into(), Some(8))] });
        assert!(problems(&t, MESSAGE_COLUMNS).is_some());
        t.indexes.push(Index { name: "uid".into(), unique: true, columns: vec![("ID".into(), None)] });
        assert_eq!(problems(&t, MESSAGE_COLUMNS), None);
    }

    #[test]
    fn names_every_problem() {
        let mut cols = good_columns();
        cols.retain(|c| c.name != "sequence_stepid");
        *cols.iter_mut().find(|c| c.name == "created_at").unwrap() = col("created_at", "varchar");
        let p = problems(&table("MyISAM", cols), MESSAGE_COLUMNS).unwrap();
        assert!(p.contains("MyISAM"), "{p}");
        assert!(p.contains("has no column sequence_stepid"), "{p}");
        assert!(p.contains("created_at of type varchar"), "{p}");
    }

    #[test]
    fn recognises_the_unique_index() {
        let ix = |unique, cols: &[&str]| Index {
            name: "x".into(),
            unique,
            columns: cols.iter().map(|c| (c.to_string(), None)).collect(),
        };
        assert!(ix(true, &["sequence_stepid", "recipient_phone", "device_id"]).is_unique_key_index());
        assert!(ix(true, &["device_id", "sequence_stepid", "recipient_phone"]).is_unique_key_index());
        assert!(!ix(false, &["sequence_stepid", "recipient_phone", "device_id"]).is_unique_key_index());
        assert!(!ix(true, &["sequence_stepid", "recipient_phone"]).is_unique_key_index());
    }
}
