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
    /// Run one pass of sequence processing under a database advisory lock (safe from cron on
    /// several hosts at once).
    Process(ProcessArgs),
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
pub struct ProcessArgs {
    /// Report what would be queued, completed and skipped; write nothing (no ledger row). The
    /// lock is still taken so the figures are those a real run would see; --min-interval is not applied.
    #[arg(long)]
    pub dry_run: bool,

    /// Contacts per batch: one read and one transaction per batch (1-5000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=5_000), value_name = "N")]
    pub batch_size: u32,

    /// Handle at most N due contacts in this pass (the rest wait for the next one).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    pub limit: Option<u64>,

    /// After a step is queued, when the contact's next step becomes due (at least 1s).
    #[arg(long, default_value = "24h", value_parser = parse_step_interval, value_name = "DURATION")]
    pub step_interval: Duration,

    /// How long to wait for another run to release the lock (0s: skip at once).
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,

    /// Skip when a process run started less than this long ago on any host (0s: never).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub min_interval: Duration,

    /// Exit status for a skipped run (lock held elsewhere, or --min-interval); default 0.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=255), value_name = "N")]
    pub busy_exit_code: i32,

    /// Run on a Galera node or a multi-primary Group Replication member, where the advisory
    /// lock only excludes runs on the same node: every cron job must then use the same node.
    #[arg(long)]
    pub allow_node_local_lock: bool,

    /// Run without the unique index on (sequence_stepid, recipient_phone, device_id): the
    /// advisory lock is then the only guard against duplicates (add the index with `seqfix migrate`).
    #[arg(long)]
    pub allow_without_index: bool,
}

/// `--step-interval`: a duration of at least one second, used in whole seconds.
pub fn parse_step_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

/// Parses a human duration such as `500ms`, `10s`, `2m`, `24h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 10s, 2m, 24h)"))
}
