//! The command line, declared with clap's derive API. Doc comments are the help text.
//! Nothing here touches the database; `config` turns these values into a checked `Config`.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find, remove and prevent duplicate sequence messages in a MySQL/MariaDB messaging database.
#[derive(Debug, Parser)]
#[command(name = "seqfix", version = crate::version::VERSION, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand; accepted before or after the subcommand name.
// The doc comments are clap's help text: `[client]` and `[...]` are option-file sections
// and optional URL parts there, not links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Server to work on: mysql://user:password@host:port/database[?ssl-mode=REQUIRED&ssl-ca=FILE&socket=PATH]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// MySQL option file to read the connection from ([client], then [seqfix]: user, password,
    /// host, port, socket, database, ssl-ca, ssl-mode). Used when no --database-url/DATABASE_URL
    /// is given; without it, ~/.my.cnf is read if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,

    /// Also write the run's figures to FILE in the Prometheus text format (node_exporter
    /// textfile collector), atomically: temporary file, then rename. audit, dedupe, process
    /// and status.
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

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

    /// Mask phone numbers in the report on stdout too (+60•••••6789), and in dedupe's
    /// --plan-file. (What seqfix stores and logs is always masked.)
    #[arg(long, global = true)]
    pub mask_phones: bool,

    /// Give up connecting after this long (e.g. 10s, 1m): TCP connect, TLS and the log-in
    /// handshake together.
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Give up on a server that stops answering in the middle of a statement after this
    /// long without a byte from it [default: 30m; migrate: no limit, since an index build
    /// answers only when it is done]. 0s: no limit.
    #[arg(long, global = true, value_parser = parse_duration, value_name = "DURATION")]
    pub io_timeout: Option<Duration>,

    /// The server closes a silent connection that holds seqfix's advisory lock after this
    /// long (its session wait_timeout), freeing the lock if this host vanishes.
    #[arg(long, global = true, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
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
    /// Delete the surplus copies of duplicate sequence messages, in small archived batches.
    Dedupe(DedupeArgs),
    /// Put the rows a dedupe run archived back into the table.
    Restore(RestoreArgs),

    /// Say whether the database is healthy: unique index, duplicates, pending migrations, last
    /// runs, process lock, overdue contacts (read-only). Exit 0 healthy, 1 a check failed.
    Status(StatusArgs),

    /// Print a shell completion script to stdout (bash, zsh or fish).
    Completions(CompletionsArgs),

    /// Print the man page (roff) to stdout, or write one page per command with --dir.
    #[command(alias = "manpage")]
    Man(ManArgs),

    /// Run one pass of sequence processing under a cluster-wide lease in the database (safe
    /// from cron on several hosts at once, against any server or cluster node).
    Process(ProcessArgs),

    /// Add the unique index on (sequence_stepid, recipient_phone, device_id) online, once.
    Migrate(MigrateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// A contact whose next step has been due for longer than this counts as overdue
    /// (processing has stalled).
    #[arg(long, default_value = "2h", value_parser = parse_duration, value_name = "DURATION")]
    pub stale_after: Duration,

    /// Do not scan the table for duplicates when the unique index is missing (the scan reads
    /// the whole table; with the index in place no scan is needed).
    #[arg(long)]
    pub skip_duplicates: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write seqfix.1 and one seqfix-COMMAND.1 per subcommand into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Which copy of a duplicate group is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeepArg {
    /// By status (sent, processing, queued, pending, failed, or --status-rank), then the
    /// oldest created_at, then the smallest id. Groups holding another status are left alone.
    SentFirst,
    /// The original notes' rule: the oldest created_at (NULL newest), then the smallest id;
    /// status ignored. Can keep an unsent copy and delete the sent one.
    Oldest,
}

/// The survivor rule, shared by audit and dedupe.
#[derive(Debug, Clone, Args)]
pub struct SurvivorArgs {
    /// Which copy of each duplicate group is kept.
    #[arg(long, value_enum, default_value_t = KeepArg::SentFirst, value_name = "RULE")]
    pub keep: KeepArg,

    /// The full status order for --keep sent-first, best first, comma-separated
    /// (case-insensitive; default sent,processing,queued,pending,failed). A group holding
    /// any status not named (or a NULL status) is left alone and reported.
    #[arg(long, value_delimiter = ',', value_name = "STATUSES")]
    pub status_rank: Option<Vec<String>>,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub survivor: SurvivorArgs,

    /// How many of the largest duplicate groups to list with their copies.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000), value_name = "N")]
    pub top: u32,

    /// Exit with status 1 when surplus rows exist (for scripts and monitoring).
    #[arg(long)]
    pub fail_on_duplicates: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DedupeArgs {
    #[command(flatten)]
    pub survivor: SurvivorArgs,

    /// Victims per batch; each batch is one short transaction.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: u64,

    /// Table that receives every deleted row (created on first use).
    #[arg(long, default_value = "seqfix_archive", value_name = "NAME")]
    pub archive_table: String,

    /// Change nothing: report what a run would delete.
    #[arg(long)]
    pub dry_run: bool,

    /// Write every victim with the row kept in its place to FILE as CSV
    /// (victim_id,kept_id,sequence_stepid,recipient_phone,device_id,rule,kept_because,
    /// kept_status,victim_status).
    #[arg(long, value_name = "FILE")]
    pub plan_file: Option<std::path::PathBuf>,

    /// Do not ask for confirmation (required when there is no terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Pause this long between batches (e.g. 100ms) to leave the server room.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub sleep: Option<Duration>,

    /// Before each batch, wait while a --replica is further behind than this (default 10s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_replica_lag: Option<Duration>,

    /// A replica to watch for lag (repeatable): mysql://user:password@host:port/database
    #[arg(long, value_name = "URL")]
    pub replica: Vec<String>,

    /// How long a batch waits for a row the application holds before it is rolled back
    /// and retried (whole seconds, at least 1s).
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_wait_timeout: Duration,

    /// Instead of deduplicating: set sequence_stepid to NULL where it is the empty string
    /// (no sequence to the application, but a value to the unique index), in archived
    /// batches that `seqfix restore --run ID` undoes.
    #[arg(long)]
    pub empty_steps_to_null: bool,

    /// Go ahead although foreign keys reference the table or triggers fire on the change
    /// (their effects on other rows are not archived; see docs/runbook.md).
    #[arg(long)]
    pub allow_cascades: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The run id a dedupe printed (also in the seqfix_runs table).
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: String,

    /// The archive table the dedupe used.
    #[arg(long, default_value = "seqfix_archive", value_name = "NAME")]
    pub archive_table: String,

    /// Change nothing: report what would be restored.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required when there is no terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Rows per batch; each batch is one transaction.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: u64,

    /// Pause this long between batches (e.g. 100ms) to leave the server room.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub sleep: Option<Duration>,
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

    /// On a Galera cluster node, run the ALTER anyway, as Total Order Isolation: every write on every node waits for the whole index build and open transactions on other nodes are aborted. For a maintenance window; without it migrate refuses there (see docs/cluster.md).
    #[arg(long, conflicts_with = "status")]
    pub galera_toi: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ProcessArgs {
    /// Report what would be queued, completed and skipped; write nothing (no ledger row, no
    /// lease claimed). It takes the node's lock and skips while a run holds the lease, so the
    /// figures are those a real run would see; --min-interval is not applied.
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

    /// How long to wait for another run to release the lock and the lease (0s: skip at once).
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,

    /// Skip when a process run started less than this long ago on any host (0s: never).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub min_interval: Duration,

    /// Exit status for a skipped run (lock held elsewhere, or --min-interval); default 0.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=255), value_name = "N")]
    pub busy_exit_code: i32,

    /// How long the cluster-wide lease lasts, from its claim and from each batch's renewal
    /// (1-86400): longer than any batch (and the snapshot). A run killed without releasing it
    /// holds it this long, unless the next run is on the same node.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=86_400), value_name = "SECONDS")]
    pub lease_seconds: u32,

    /// Deprecated, does nothing (warns): runs against any node of a cluster exclude each
    /// other through the lease.
    #[arg(long, hide = true)]
    pub allow_node_local_lock: bool,

    /// Run without the unique index on (sequence_stepid, recipient_phone, device_id): the
    /// lease is then the only guard against duplicates (add the index with `seqfix migrate`).
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

impl Cli {
    /// Parses the command line. A negative number is taken as a flag's value, so that
    /// `--top -1` is refused for its value ("invalid value '-1' for '--top'") rather than
    /// as an unknown argument.
    pub fn try_parse_args() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let cmd = Cli::command().allow_negative_numbers(true).mut_subcommands(|c| c.allow_negative_numbers(true));
        Cli::from_arg_matches(&cmd.try_get_matches()?)
    }
}
