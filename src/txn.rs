//! The batch transaction of every command that writes in batches (`dedupe`, `restore`,
//! `dedupe --empty-steps-to-null`, `process`), made safe on a cluster: how its statements
//! reach the server, and the check that it is still open before each later statement and
//! before COMMIT.
//!
//! On Galera a transaction that another node's conflicting write aborted while one of its
//! statements was being *prepared* can lose the abort: every later statement and the COMMIT
//! return OK, the transaction's writes are gone, and a write sent after the silent abort
//! commits on its own (issue 18 measured 4 in 200 and 3 in 300 such transactions with
//! prepared statements, none in 400 with plain text queries). So on Galera (`wsrep_on`) a
//! batch sends its statements as plain text, values written as literals (`sql::inline`), and
//! asks the server whether the transaction is still open before every statement but the
//! first and before COMMIT; when it is not, the batch fails with `retry::TransactionLost`,
//! which the retry policy treats like a deadlock. Elsewhere statements are prepared, with
//! bound values. See docs/cluster.md.
use anyhow::{Context, Result};
use mysql::prelude::{FromRow, Queryable};
use mysql::{Conn, Transaction, TxOpts, Value};

use crate::db::{self, Cluster, Db, Flavor};
use crate::retry::TransactionLost;
use crate::sql;

/// How a batch transaction sends its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    /// Prepared on the server, values bound (`exec_*`).
    Prepared,
    /// Plain text queries, values written as literals, and the transaction checked to be
    /// still open before each later statement and before COMMIT: on Galera.
    Text { no_backslash_escapes: bool, flavor: Flavor },
}

impl Statements {
    /// How this server's batches send their statements: as text on a Galera node (with the
    /// session's `NO_BACKSLASH_ESCAPES` read now: set the session's sql_mode first),
    /// prepared elsewhere.
    pub fn of(db: &mut Db) -> Result<Statements> {
        Ok(match db::node_cluster(db)? {
            Some(Cluster::Galera) => Statements::for_galera(db)?,
            _ => Statements::Prepared,
        })
    }

    /// The text statements of a Galera node, for this session's sql_mode and server.
    pub fn for_galera(db: &mut Db) -> Result<Statements> {
        Ok(Statements::Text { no_backslash_escapes: db::no_backslash_escapes(db)?, flavor: db.server.flavor })
    }
}

/// One batch transaction.
pub struct BatchTx<'c> {
    tx: Transaction<'c>,
    statements: Statements,
    /// Statements sent so far.
    sent: u32,
}

impl<'c> BatchTx<'c> {
    pub fn start(conn: &'c mut Conn, statements: Statements) -> Result<BatchTx<'c>> {
        let tx = conn.start_transaction(TxOpts::default()).context("cannot start the batch transaction")?;
        Ok(BatchTx { tx, statements, sent: 0 })
    }

    /// Runs a statement that returns no rows; returns the rows it changed.
    pub fn write(&mut self, statement: &str, params: Vec<Value>) -> Result<u64> {
        self.before_statement()?;
        match self.statements {
            Statements::Prepared => self.tx.exec_drop(statement, params)?,
            Statements::Text { no_backslash_escapes, .. } => {
                self.tx.query_drop(sql::inline(statement, &params, no_backslash_escapes)?)?
            }
        }
        Ok(self.tx.affected_rows())
    }

    /// Runs a statement that returns rows.
    pub fn read<T: FromRow>(&mut self, statement: &str, params: Vec<Value>) -> Result<Vec<T>> {
        self.before_statement()?;
        Ok(match self.statements {
            Statements::Prepared => self.tx.exec(statement, params)?,
            Statements::Text { no_backslash_escapes, .. } => {
                self.tx.query(sql::inline(statement, &params, no_backslash_escapes)?)?
            }
        })
    }

    /// On Galera, fails with `TransactionLost` when the server no longer has the
    /// transaction open; elsewhere does nothing.
    pub fn check_open(&mut self) -> Result<()> {
        let Statements::Text { flavor, .. } = self.statements else { return Ok(()) };
        let query = match flavor {
            Flavor::MariaDb => sql::SERVER_IN_TRANSACTION,
            Flavor::MySql => sql::SERVER_IN_TRANSACTION_MYSQL,
        };
        let open: Option<u64> = self.tx.query_first(query).with_context(|| match flavor {
            Flavor::MariaDb => "cannot ask whether the batch's transaction is still open".to_string(),
            Flavor::MySql => "cannot ask whether the batch's transaction is still open (on a MySQL-based Galera node \
                              seqfix reads information_schema.INNODB_TRX, which needs the PROCESS privilege)"
                .to_string(),
        })?;
        if open.unwrap_or(0) == 0 {
            log::warn!("the batch's transaction was no longer open on the server; retrying it");
            return Err(TransactionLost.into());
        }
        Ok(())
    }

    /// The error for a count that is not what the batch locked or copied: `TransactionLost`
    /// when the transaction is no longer open (its writes vanished: retried), else `what`
    /// (the transaction, rolled back when dropped, fails the run).
    pub fn mismatch(&mut self, what: String) -> anyhow::Error {
        match self.check_open() {
            Ok(()) => anyhow::anyhow!("{what}; rolled back"),
            Err(e) => e,
        }
    }

    /// Commits, once the transaction is checked to be still open.
    pub fn commit(mut self) -> Result<()> {
        self.check_open()?;
        self.tx.commit().context("cannot commit the batch")
    }

    pub fn rollback(self) -> Result<()> {
        self.tx.rollback().context("cannot roll back the batch")
    }

    fn before_statement(&mut self) -> Result<()> {
        if self.sent > 0 {
            self.check_open()?;
        }
        self.sent += 1;
        Ok(())
    }
}
