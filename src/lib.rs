//! seqfix: find, remove and prevent duplicate sequence messages in MySQL/MariaDB.
//!
//! Data flows one way: `cli` (arguments) → `config` (checked) → `db` (connection) →
//! an operation (`audit`, ...) returning a report → `report` (table or JSON). Only
//! `main` turns the `Outcome` into an exit code.
pub mod audit;
pub mod cli;
pub mod config;
pub mod confirm;
pub mod db;
pub mod fixture;
pub mod fixture_contacts;
pub mod interrupt;
pub mod ledger;
pub mod logging;
pub mod process;
pub mod progress;
pub mod report;
pub mod scan;
pub mod schema;
pub mod sql;

use anyhow::Result;

use cli::{Cli, Command};
use config::Config;

/// Exit status for any error (bad input, connection, schema, lock held).
pub const EXIT_ERROR: i32 = 2;

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran; nothing to flag.
    Ok,
    /// Ran, and found what `--fail-on-...` asked to flag (exit 1).
    CheckFailed,
    /// Stopped by Ctrl-C after finishing cleanly (exit 130).
    Interrupted,
    /// Did nothing by design, with a caller-chosen exit code (e.g. `--busy-exit-code`).
    Skipped(i32),
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::CheckFailed => 1,
            Outcome::Interrupted => 130,
            Outcome::Skipped(code) => code,
        }
    }
}

/// The whole error chain on one line, as `main` prints it.
pub fn error_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace('\n', " ")
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let cfg = Config::from_args(&cli.global)?;
    match cli.command {
        Command::Audit(args) => {
            let mut db = db::connect(&cfg.db)?;
            let report = audit::run(&mut db, &cfg, args.top as usize)?;
            report::emit(cfg.format, &report, report::audit)?;
            Ok(if args.fail_on_duplicates && report.surplus_rows > 0 { Outcome::CheckFailed } else { Outcome::Ok })
        }
        Command::Process(args) => {
            interrupt::install();
            let opts = process::Options {
                dry_run: args.dry_run,
                batch_size: args.batch_size as usize,
                limit: args.limit,
                step_interval_secs: args.step_interval.as_secs(),
                lock_timeout: args.lock_timeout,
                min_interval: args.min_interval,
                allow_node_local_lock: args.allow_node_local_lock,
                allow_without_index: args.allow_without_index,
            };
            let mut db = db::connect(&cfg.db)?;
            let report = process::run(&mut db, &cfg, &opts)?;
            report::emit(cfg.format, &report, report::process)?;
            Ok(match report.skipped {
                Some(_) => Outcome::Skipped(args.busy_exit_code),
                None if report.interrupted => Outcome::Interrupted,
                None => Outcome::Ok,
            })
        }
    }
}
