//! seqfix: find, remove and prevent duplicate sequence messages in MySQL/MariaDB.
//!
//! Data flows one way: `cli` (arguments) → `options` (what each flag becomes) → `config`
//! (checked) → `db` (connection) → an operation (`audit`, ...) returning a report and an
//! `outcome::Outcome` → `report` (table or JSON). Only `main` turns the `Outcome` into an
//! exit code.
// Read top-down as the layers; every import points down this list.
// Arguments: the command line, and what each flag becomes.
pub mod cli;
pub mod options;
pub mod shell;
pub mod version;

// Checked settings and the process around the run.
pub mod config;
pub mod confirm;
pub mod interrupt;
pub mod logging;
pub mod optionfile;
pub mod priority;
pub mod progress;

// The database: connection and server facts, tables, statements, the run ledger.
pub mod archive;
pub mod db;
pub mod empty_steps;
pub mod lease;
pub mod ledger;
pub mod replica;
pub mod retry;
pub mod scan;
pub mod schema;
pub mod spill;
pub mod txn;

// The operations, one per command; each returns a report and an `Outcome`.
pub mod audit;
pub mod dedupe;
pub mod migrate;
pub mod process;
pub mod restore;
pub mod status;

// Output: reports rendered for people or as JSON, and the metrics file.
pub mod figures;
pub mod metrics;
pub mod report;

// Leaves: rules and values with no I/O, used from every layer above.
pub mod ident;
pub mod mask;
pub mod outcome;
pub mod sql;
pub mod survivor;
pub mod when;

use std::time::Instant;

use anyhow::Result;

use cli::{Cli, Command};
use config::Config;
use outcome::Outcome;

pub fn run(cli: Cli) -> Result<Outcome> {
    // Commands that need no database.
    match &cli.command {
        Command::Completions(args) => {
            report::raw(&shell::completions(args.shell))?;
            return Ok(Outcome::Ok);
        }
        Command::Man(args) => {
            match &args.dir {
                None => report::raw(&shell::man_page()?)?,
                Some(dir) => {
                    for path in shell::write_man_pages(dir)? {
                        log::info!("wrote {}", path.display());
                    }
                }
            }
            return Ok(Outcome::Ok);
        }
        _ => {}
    }
    if cli.global.metrics_file.is_some() && !writes_metrics(&cli.command) {
        anyhow::bail!("--metrics-file is written by audit, dedupe, process and status only");
    }
    let cfg = Config::from_args(&cli.global)?;
    let started = Instant::now();
    match cli.command {
        Command::Audit(args) => {
            let rule = options::survivor_rule(&args.survivor)?;
            let mut db = db::connect(&cfg.db)?;
            let mut report = audit::run(&mut db, &cfg, args.top as usize, &rule)?;
            if cli.global.mask_phones {
                report.mask_phones();
            }
            write_metrics(&cfg, || figures::audit(&report, started))?;
            report::emit(cfg.format, &report, report::audit)?;
            Ok(if args.fail_on_duplicates && report.surplus_rows > 0 { Outcome::CheckFailed } else { Outcome::Ok })
        }
        Command::Dedupe(args) => {
            let opts = options::dedupe_options(&args, &cli.global)?;
            if opts.empty_steps_to_null {
                let (report, outcome) = dedupe::empty::run(&cfg, &opts)?;
                report::emit(cfg.format, &report, report::empty_steps)?;
                return Ok(outcome);
            }
            let (mut report, outcome) = dedupe::run(&cfg, &opts)?;
            if cli.global.mask_phones {
                report.mask_phones();
            }
            let written = write_metrics(&cfg, || {
                figures::dedupe(&cfg.db.database, cfg.table.as_str(), &(&report).into(), started)
            });
            report::emit(cfg.format, &report, report::dedupe)?;
            Ok(after_work(written, report.run_id.as_deref(), outcome))
        }
        Command::Restore(args) => {
            let opts = options::restore_options(&args)?;
            let (report, outcome) = restore::run(&cfg, &opts)?;
            report::emit(cfg.format, &report, report::restore)?;
            Ok(outcome)
        }
        Command::Migrate(args) => {
            let opts = options::migrate_options(&args);
            interrupt::install();
            // An index build answers only when it is done: no read timeout unless asked.
            let mut conn_cfg = cfg.db.clone();
            if cli.global.io_timeout.is_none() {
                conn_cfg.io_timeout = None;
            }
            let mut db = db::connect(&conn_cfg)?;
            let report = migrate::run(&mut db, &cfg, &opts)?;
            report::emit(cfg.format, &report, report::migrate)?;
            if let Some(line) = &report.refusal {
                report::refusal(line);
                return Ok(Outcome::CheckFailed);
            }
            Ok(if interrupt::requested() { Outcome::Interrupted } else { Outcome::Ok })
        }
        Command::Process(args) => {
            interrupt::install();
            let opts = options::process_options(&args);
            let mut db = db::connect(&cfg.db)?;
            let report = process::run(&mut db, &cfg, &opts)?;
            let written =
                write_metrics(&cfg, || figures::process(&db.database, cfg.table.as_str(), &(&report).into(), started));
            report::emit(cfg.format, &report, report::process)?;
            let outcome = match report.skipped {
                Some(_) => Outcome::Skipped(args.busy_exit_code),
                None if report.interrupted => Outcome::Interrupted,
                None => Outcome::Ok,
            };
            Ok(after_work(written, report.run_id.as_deref(), outcome))
        }
        Command::Status(args) => {
            let mut db = db::connect(&cfg.db)?;
            let opts = status::Options { stale_after: args.stale_after, skip_duplicates: args.skip_duplicates };
            let report = status::run(&mut db, &cfg, &opts)?;
            write_metrics(&cfg, || figures::status(&report, started))?;
            report::emit(cfg.format, &report, report::status)?;
            Ok(if report.healthy { Outcome::Ok } else { Outcome::CheckFailed })
        }
        Command::Completions(_) | Command::Man(_) => unreachable!("handled above"),
    }
}

/// The outcome of a command that may have changed the database, once its report is out:
/// a metrics file that could not be written is said on stderr, with the run id, and gives
/// its own exit code rather than 2 (which says nothing was changed).
fn after_work(written: Result<()>, run_id: Option<&str>, outcome: Outcome) -> Outcome {
    match written {
        Ok(()) => outcome,
        Err(e) => {
            let run = run_id.map(|id| format!(" (run {id})")).unwrap_or_default();
            report::refusal(&format!(
                "the run finished as reported above{run}, but {}; nothing is wrong with the database",
                outcome::chain_text(&e)
            ));
            Outcome::OutputFailed
        }
    }
}

/// The commands that honour `--metrics-file`; any other refuses it rather than ignore it.
fn writes_metrics(command: &Command) -> bool {
    matches!(command, Command::Audit(_) | Command::Status(_) | Command::Dedupe(_) | Command::Process(_))
}

/// Writes `--metrics-file` when asked, building the metrics only then. Called after the
/// command's work and before its report, so a run whose file could not be written says so.
fn write_metrics(cfg: &Config, build: impl FnOnce() -> metrics::Metrics) -> Result<()> {
    match &cfg.metrics_file {
        Some(path) => build().write_atomic(path),
        None => Ok(()),
    }
}
