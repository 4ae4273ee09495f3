//! The command line, declared with clap's derive API. Doc comments are the help text.
//! Nothing here touches the database; `config` turns these values into a checked `Config`.
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find, remove and prevent duplicate sequence messages in a MySQL/MariaDB messaging database.
#[derive(Debug, Parser)]
#[command(name = "seqfix", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand; accepted before or after the subcommand name.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Server to work on: mysql://user:password@host:port/database[?ssl-mode=REQUIRED&ssl-ca=FILE&socket=PATH]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// The messages table.
    #[arg(long, global = true, default_value = "broadcast_messages", value_name = "NAME")]
    pub table: String,

    /// Report format on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Never draw progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output on stderr (-q errors only, -qq nothing).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Give up connecting after this long (e.g. 10s, 1m).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// One JSON object.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report duplicate sequence messages (read-only; needs only SELECT).
    Audit(AuditArgs),
    /// Add the unique index on (sequence_stepid, recipient_phone, device_id) online, once.
    Migrate(MigrateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// How many of the largest duplicate groups to list with their copies.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000), value_name = "N")]
    pub top: u32,

    /// Exit with status 1 when surplus rows exist (for scripts and monitoring).
    #[arg(long)]
    pub fail_on_duplicates: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// List applied and pending migrations, and change nothing.
    #[arg(long, conflicts_with_all = ["dry_run", "down", "yes"])]
    pub status: bool,

    /// Run the preflight checks (including the full duplicate check) and print the exact SQL; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Revert the last applied migration (drops the unique index). Asks for confirmation.
    #[arg(long)]
    pub down: bool,

    /// Do not ask for confirmation (needed for --down without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Transactions open longer than this may hold metadata locks on the table: wait for them (see --trx-wait).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub max_trx_age: Duration,

    /// How long to wait for such transactions to end before stopping without a change (0s: stop at once).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub trx_wait: Duration,

    /// How long the ALTER may wait for the table's metadata lock before giving up (whole seconds, at least 1s); the application's queries on the table wait at most this long behind it. Also bounds the wait for another migrate's lock.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_wait_timeout: Duration,

    /// Retries after a metadata-lock timeout, with backoff (0.5s, 1s, 2s, ... at most 30s).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100), value_name = "N")]
    pub retries: u32,

    /// Check for duplicates with a full scan before building, instead of letting the build find them (slower: one more full scan).
    #[arg(long)]
    pub check_duplicates_first: bool,
}

/// Parses a human duration such as `500ms`, `10s`, `2m`, `24h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 10s, 2m, 24h)"))
}
