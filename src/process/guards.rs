//! The checks `process` makes before any work: the tables and columns it uses, the
//! privileges it needs (proved without writing), the cluster type, and the session settings.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, TxOpts};

use crate::db::{Db, Flavor};
use crate::ident::Ident;
use crate::schema::{self, ColumnReq, Kind};
use crate::sql;

/// The tables the pass touches, validated.
pub(super) struct Tables {
    pub(super) messages: Ident,
    sequences: Ident,
    steps: Ident,
    contacts: Ident,
    leads: Ident,
    devices: Ident,
    logs: Ident,
}

impl Tables {
    pub(super) fn new(messages: &Ident) -> Result<Tables> {
        Ok(Tables {
            messages: messages.clone(),
            sequences: Ident::new("table", "sequences")?,
            steps: Ident::new("table", "sequence_steps")?,
            contacts: Ident::new("table", "sequence_contacts")?,
            leads: Ident::new("table", "leads")?,
            devices: Ident::new("table", "user_devices")?,
            logs: Ident::new("table", "sequence_logs")?,
        })
    }

    pub(super) fn render(&self, template: &str) -> String {
        sql::render(
            template,
            &[
                ("table", &self.messages),
                ("sequences", &self.sequences),
                ("steps", &self.steps),
                ("contacts", &self.contacts),
                ("leads", &self.leads),
                ("devices", &self.devices),
                ("logs", &self.logs),
            ],
        )
    }
}

const fn req(name: &'static str, kind: Kind, why: &'static str) -> ColumnReq {
    ColumnReq { name, kind, why }
}

const WHY_MSG: &str = "to queue sequence messages";
const MESSAGES: &[ColumnReq] = &[
    req("id", Kind::ShortText, WHY_MSG),
    req("user_id", Kind::ShortText, WHY_MSG),
    req("device_id", Kind::ShortText, WHY_MSG),
    req("sequence_id", Kind::ShortText, WHY_MSG),
    req("sequence_stepid", Kind::ShortText, WHY_MSG),
    req("recipient_phone", Kind::ShortText, WHY_MSG),
    req("recipient_name", Kind::AnyText, WHY_MSG),
    req("message_type", Kind::AnyText, WHY_MSG),
    req("content", Kind::AnyText, WHY_MSG),
    req("media_url", Kind::AnyText, WHY_MSG),
    req("status", Kind::AnyText, WHY_MSG),
    req("scheduled_at", Kind::Temporal, WHY_MSG),
    req("created_at", Kind::Temporal, WHY_MSG),
];
const SEQUENCES: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to join contacts to their sequence"),
    req("user_id", Kind::ShortText, "to find the sequence's owner"),
    req("total_days", Kind::Integer, "to complete contacts past the last day"),
    req("is_active", Kind::Flag, "to process active sequences only"),
    req("status", Kind::AnyText, "to process active sequences only (not drafts)"),
];
const STEPS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to queue a step"),
    req("sequence_id", Kind::ShortText, "to find a sequence's steps"),
    req("day_number", Kind::Integer, "to find the next step"),
    req("message_type", Kind::AnyText, WHY_MSG),
    req("content", Kind::AnyText, WHY_MSG),
    req("media_url", Kind::AnyText, WHY_MSG),
];
const CONTACTS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to identify contacts"),
    req("sequence_id", Kind::ShortText, "to find the contact's sequence"),
    req("contact_phone", Kind::ShortText, "to find the contact's lead"),
    req("contact_name", Kind::AnyText, WHY_MSG),
    req("current_step", Kind::Integer, "to find and record the contact's step"),
    req("status", Kind::AnyText, "to process active contacts only"),
    req("completed_at", Kind::Temporal, "to complete contacts"),
    req("next_trigger_time", Kind::Temporal, "to find due contacts"),
];
const LEADS: &[ColumnReq] = &[
    req("id", Kind::Integer, "to pick the first lead of a phone"),
    req("phone", Kind::ShortText, "to find a contact's lead"),
    req("user_id", Kind::ShortText, "to find a contact's lead"),
    req("device_id", Kind::ShortText, "to find the lead's device"),
];
const DEVICES: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to find the lead's device"),
    req("user_id", Kind::ShortText, "to check who owns the device"),
    req("status", Kind::AnyText, "to send through connected devices only"),
];
const LOGS: &[ColumnReq] = &[
    req("id", Kind::ShortText, "to log queued steps"),
    req("sequence_id", Kind::ShortText, "to log queued steps"),
    req("contact_id", Kind::ShortText, "to log queued steps"),
    req("step_id", Kind::ShortText, "to log queued steps"),
    req("day", Kind::Integer, "to log queued steps"),
    req("status", Kind::AnyText, "to log queued steps"),
    req("message_id", Kind::AnyText, "to log queued steps"),
];

/// Schema check of every table; returns whether the messages table has the unique index.
pub(super) fn check_schema(db: &mut Db, t: &Tables) -> Result<bool> {
    let info = schema::check(db, &t.messages, MESSAGES)?;
    for (table, cols) in [
        (&t.sequences, SEQUENCES),
        (&t.steps, STEPS),
        (&t.contacts, CONTACTS),
        (&t.leads, LEADS),
        (&t.devices, DEVICES),
        (&t.logs, LOGS),
    ] {
        schema::check(db, table, cols)?;
    }
    Ok(info.unique_key_index().is_some())
}

/// Proves the user may do what the pass does, before anything is written: statements that
/// change no row but still make the server check INSERT/UPDATE privileges, in a transaction
/// that is rolled back, then a throw-away temporary table.
pub(super) fn check_privileges(db: &mut Db, t: &Tables, dry_run: bool) -> Result<()> {
    let missing = |what: String| {
        anyhow::anyhow!(
            "user {} may not {what}: seqfix process needs SELECT on the sequence tables, INSERT on {} and \
             sequence_logs, UPDATE on sequence_contacts, CREATE TEMPORARY TABLES, and CREATE, INSERT, UPDATE on \
             seqfix_runs and seqfix_leases (GRANT them; --dry-run needs only SELECT and CREATE TEMPORARY TABLES)",
            db.user,
            t.messages
        )
    };
    let denied = |e: &mysql::Error| matches!(e, mysql::Error::MySqlError(m) if matches!(m.code, 1044 | 1142 | 1143));
    let database = db.database.clone();
    if !dry_run {
        let mut probes = Vec::new();
        for (template, table, what) in [
            (sql::PROCESS_PROBE_INSERT, &t.messages, "INSERT"),
            (sql::PROCESS_PROBE_INSERT, &t.logs, "INSERT"),
            (sql::PROCESS_PROBE_UPDATE, &t.contacts, "UPDATE"),
        ] {
            probes.push((sql::render(template, &[("table", table)]), format!("{what} {database}.{table}")));
        }
        let mut tx = db.conn.start_transaction(TxOpts::default())?;
        for (stmt, what) in probes {
            match tx.query_drop(&stmt) {
                Ok(()) => {}
                Err(e) if denied(&e) => return Err(missing(what)),
                Err(e) => return Err(e).with_context(|| format!("cannot check the privilege to {what}")),
            }
        }
        tx.rollback()?;
    }
    match db.conn.query_drop(sql::PROCESS_PROBE_TEMPORARY) {
        Ok(()) => {}
        Err(e) if denied(&e) => return Err(missing(format!("CREATE TEMPORARY TABLES in {database}"))),
        Err(e) => return Err(e).context("cannot check the privilege to create temporary tables"),
    }
    db.conn.query_drop(sql::PROCESS_DROP_PROBE)?;
    Ok(())
}

/// A cluster needs no flag any more: the lease is a row every node certifies, not the
/// node-local `GET_LOCK`. `--allow-node-local-lock` is accepted, does nothing, and says so.
pub(super) fn check_cluster(db: &mut Db, allow_node_local_lock: bool) -> Result<()> {
    if allow_node_local_lock {
        log::warn!(
            "--allow-node-local-lock is deprecated and does nothing: runs against any node exclude each other \
             through the lease in seqfix_leases; drop the flag"
        );
    }
    if let Some(cluster) = crate::db::node_cluster(db)? {
        log::info!("cluster node ({cluster:?}): runs on every node exclude each other through the lease");
    }
    Ok(())
}

/// READ COMMITTED unless the binary log is statement-based (see read_committed.sql).
pub(super) fn tune_session(conn: &mut Conn, flavor: Flavor) -> Result<()> {
    let mut row: Option<(Option<i64>, Option<String>)> = None;
    if flavor == Flavor::MySql {
        row = conn.query_first(sql::PROCESS_BINLOG_FORMAT_MYSQL)?;
    }
    // MariaDB, or a MySQL whose performance_schema does not answer: the variable itself.
    if !matches!(row, Some((_, Some(_)))) {
        row = conn.query_first(sql::PROCESS_BINLOG_FORMAT)?;
    }
    let statement_log = matches!(row, Some((Some(1), Some(f))) if f.eq_ignore_ascii_case("STATEMENT"));
    if !statement_log {
        conn.query_drop(sql::PROCESS_READ_COMMITTED)?;
    }
    conn.query_drop(sql::PROCESS_LOCK_WAIT)?;
    Ok(())
}
