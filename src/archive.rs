//! The archive table that `dedupe` copies removed rows into and `restore` reads them back
//! from: its definition (derived from the source table as the server describes it), the
//! check that an existing archive can hold the source's rows, and the column list both
//! commands copy by. Columns are never assumed: the live table gains columns over time.
use anyhow::{bail, Context, Result};
use mysql::prelude::Queryable;

use crate::db::Db;
use crate::ident::Ident;
use crate::schema::{self, Column, TableInfo};
use crate::sql::{self, Fragment};

/// Default archive table name (`--archive-table`).
pub const DEFAULT_TABLE: &str = "seqfix_archive";

/// Columns seqfix adds to the source's columns.
pub const RUN_ID: &str = "seqfix_run_id";
pub const KEPT_ID: &str = "seqfix_kept_id";
pub const ARCHIVED_AT: &str = "seqfix_archived_at";

/// The source's columns as validated identifiers, in table order: the list every copy
/// between source and archive names explicitly.
pub fn copy_columns(source: &TableInfo) -> Result<Vec<Ident>> {
    source
        .columns
        .iter()
        .map(|c| {
            Ident::new("column", &c.name).with_context(|| {
                format!("table {} has a column name seqfix cannot quote safely; rename it first", source.name)
            })
        })
        .collect()
}

/// The columns `restore` writes back: the source's columns less those the server computes
/// (`GENERATED ALWAYS AS ...`), which it refuses a value for (error 1906) and recomputes
/// from the restored columns. The archive keeps their values as plain columns.
pub fn restore_columns(source: &TableInfo) -> Result<Vec<Ident>> {
    Ok(copy_columns(source)?.into_iter().zip(&source.columns).filter(|(_, c)| !c.generated).map(|(i, _)| i).collect())
}

/// One column definition for the archive: the source's type (and character set and
/// collation for text), nullable without a default, so no value is ever invented and no
/// TIMESTAMP column gets the server's automatic initialisation. The exception is `id`,
/// part of the archive's primary key: MySQL refuses a nullable key part (error 1171,
/// where MariaDB silently makes it NOT NULL), so it is declared `NOT NULL`, which every
/// copied row satisfies (it is the source's primary key).
fn definition(c: &Column) -> String {
    let mut d = c.column_type.clone();
    if let (Some(cs), Some(coll)) = (&c.charset, &c.collation) {
        d += &format!(" CHARACTER SET {cs} COLLATE {coll}");
    }
    if c.name == "id" {
        d + " NOT NULL"
    } else {
        d + " NULL DEFAULT NULL"
    }
}

/// The `CREATE TABLE` for a new archive of `source`. Pure, for unit tests.
pub fn create_statement(source: &TableInfo, archive: &Ident) -> Result<String> {
    let id = source.column("id").context("the source table has no id column")?;
    let mut defs = Vec::new();
    for (ident, col) in copy_columns(source)?.into_iter().zip(&source.columns) {
        defs.push((ident, definition(col)));
    }
    let collation = source.collation.clone().unwrap_or_else(|| "utf8mb4_unicode_ci".into());
    let charset = source.charset().unwrap_or_else(|| "utf8mb4".into());
    let kept_type = match (&id.charset, &id.collation) {
        (Some(cs), Some(coll)) => format!("{} CHARACTER SET {cs} COLLATE {coll}", id.column_type),
        _ => id.column_type.clone(),
    };
    Ok(sql::render_parts(
        sql::ARCHIVE_CREATE,
        &[("archive", archive)],
        &[
            ("definitions", &Fragment::definitions(defs)),
            ("kept_type", &Fragment::column_type(&kept_type)),
            ("charset", &Fragment::word(&Ident::new("character set", &charset)?)),
            ("collation", &Fragment::word(&Ident::new("collation", &collation)?)),
        ],
    ))
}

/// What is wrong with an existing archive for this source, if anything. Pure.
pub fn incompatibilities(source: &TableInfo, archive: &TableInfo) -> Option<String> {
    let mut out = Vec::new();
    for c in &source.columns {
        match archive.column(&c.name) {
            None => out.push(format!("has no column {}", c.name)),
            Some(a) if !a.column_type.eq_ignore_ascii_case(&c.column_type) => {
                out.push(format!("has {} as {} where {} has {}", c.name, a.column_type, source.name, c.column_type))
            }
            Some(a) if a.collation.is_some() && c.collation.is_some() && a.collation != c.collation => {
                out.push(format!(
                    "has {} in collation {} where {} has {}",
                    c.name,
                    a.collation.as_deref().unwrap_or(""),
                    source.name,
                    c.collation.as_deref().unwrap_or("")
                ))
            }
            Some(_) => {}
        }
    }
    for extra in [RUN_ID, KEPT_ID, ARCHIVED_AT] {
        if archive.column(extra).is_none() {
            out.push(format!("has no column {extra}"));
        }
    }
    if !archive.engine.eq_ignore_ascii_case("InnoDB") {
        out.push(format!("uses the {} engine instead of InnoDB", archive.engine));
    }
    if out.is_empty() {
        None
    } else {
        Some(out.join("; "))
    }
}

/// Checks an existing archive (without creating anything). `Ok(false)` when it does not exist.
pub fn check_existing(db: &mut Db, source: &TableInfo, archive: &Ident) -> Result<bool> {
    let Some(info) = schema::describe(db, archive)? else { return Ok(false) };
    if let Some(problem) = incompatibilities(source, &info) {
        bail!(
            "archive table {}.{archive} exists but cannot hold rows of {}: it {problem}; \
             pass another --archive-table, or alter that table to match (nothing was changed)",
            db.database,
            source.name
        );
    }
    Ok(true)
}

/// Creates the archive when it is missing (after `check_existing` said so).
pub fn create(db: &mut Db, source: &TableInfo, archive: &Ident) -> Result<()> {
    let stmt = create_statement(source, archive)?;
    let result = db.conn.query_drop(stmt);
    result.map_err(|e| {
        let e = anyhow::Error::new(e);
        let hint = match crate::db::server_error_code(&e) {
            // ER_TABLEACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
            Some(1142 | 1044) => " (grant the user CREATE on the database, or create the archive table first)",
            _ => "",
        };
        e.context(format!("cannot create the archive table {}.{archive}{hint}", db.database))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn col(name: &str, ty: &str, text: bool) -> Column {
        Column {
            name: name.into(),
            data_type: ty.split('(').next().unwrap().into(),
            column_type: ty.into(),
            nullable: false,
            charset: text.then(|| "utf8mb4".into()),
            collation: text.then(|| "utf8mb4_unicode_ci".into()),
            max_chars: None,
            generated: false,
        }
    }

    fn table(name: &str, cols: Vec<Column>) -> TableInfo {
        TableInfo {
            name: name.into(),
            engine: "InnoDB".into(),
            collation: Some("utf8mb4_unicode_ci".into()),
            row_format: None,
            estimated_rows: 0,
            columns: cols,
            indexes: vec![],
        }
    }

    fn source() -> TableInfo {
        table(
            "broadcast_messages",
            vec![col("id", "char(36)", true), col("created_at", "timestamp", false), col("n", "int(11)", false)],
        )
    }

    #[test]
    fn restore_leaves_out_the_columns_the_server_computes() {
        let mut src = source();
        src.columns.push(Column { generated: true, ..col("n_doubled", "int(11)", false) });
        let names = |v: Vec<Ident>| v.iter().map(|i| i.as_str().to_string()).collect::<Vec<_>>();
        assert_eq!(names(copy_columns(&src).unwrap()), ["id", "created_at", "n", "n_doubled"]);
        assert_eq!(names(restore_columns(&src).unwrap()), ["id", "created_at", "n"]);
        // The archive still holds the computed value, as a plain column.
        let create = create_statement(&src, &Ident::new("table", "a").unwrap()).unwrap();
        assert!(create.contains("`n_doubled` int(11) NULL DEFAULT NULL"), "{create}");
    }

    #[test]
    fn create_copies_types_and_collations() {
        let sql = create_statement(&source(), &Ident::new("table", "arch").unwrap()).unwrap();
        assert!(sql.contains("CREATE TABLE `arch`"), "{sql}");
        assert!(
            sql.contains("`id` char(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,"),
            "the primary key's column is NOT NULL (MySQL refuses a nullable key part): {sql}"
        );
        assert!(sql.contains("`n` int(11) NULL DEFAULT NULL"), "{sql}");
        assert!(sql.contains("`created_at` timestamp NULL DEFAULT NULL"), "{sql}");
        assert!(
            sql.contains("seqfix_kept_id char(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL"),
            "{sql}"
        );
        assert!(sql.contains("PRIMARY KEY (seqfix_run_id, id)"), "{sql}");
        assert!(sql.ends_with("DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci\n"), "{sql}");
    }

    #[test]
    fn existing_archive_must_match() {
        let mut cols = source().columns;
        cols.push(col(RUN_ID, "char(36)", true));
        cols.push(col(KEPT_ID, "char(36)", true));
        cols.push(col(ARCHIVED_AT, "timestamp(6)", false));
        assert_eq!(incompatibilities(&source(), &table("a", cols.clone())), None);
        cols.retain(|c| c.name != "n");
        cols[0] = col("id", "int(11)", false);
        let p = incompatibilities(&source(), &table("a", cols)).unwrap();
        assert!(p.contains("has no column n"), "{p}");
        assert!(p.contains("has id as int(11) where broadcast_messages has char(36)"), "{p}");
        let p = incompatibilities(&source(), &table("a", vec![col("x", "int", false)])).unwrap();
        assert!(p.contains("has no column seqfix_run_id"), "{p}");
    }
}
