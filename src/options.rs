//! Arguments become each operation's options here, one function per command (as cargo's
//! `commands/*` fill `ops::*Options`): everything a flag turns into, checked, is found in
//! this file. `Config` (connection, table, output) comes from `config`; operations never
//! see clap types.
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::GlobalArgs;
use crate::config::DbConfig;
use crate::ident::Ident;

/// Largest accepted `--batch-size`. A dedupe batch binds about two values per victim in
/// one statement (`dedupe::max_placeholders`) and the server refuses a statement with more
/// than 65,535 placeholders (ERROR 1390); 10,000 stays well under that with every status
/// `--status-rank` may name, and bigger batches would hold locks longer than an online
/// change should. Restore shares the bound.
pub const MAX_BATCH_SIZE: u64 = crate::dedupe::MAX_BATCH_SIZE;

fn batch_size(n: u64) -> Result<usize> {
    if n == 0 || n > MAX_BATCH_SIZE {
        bail!("--batch-size must be between 1 and {MAX_BATCH_SIZE} (got {n}); the default is 1000");
    }
    Ok(n as usize)
}

/// Checks the survivor rule's arguments (audit and dedupe).
pub fn survivor_rule(args: &crate::cli::SurvivorArgs) -> Result<crate::survivor::Rule> {
    use crate::cli::KeepArg;
    use crate::survivor::Rule;
    match (args.keep, &args.status_rank) {
        (KeepArg::Oldest, Some(_)) => {
            bail!("--status-rank orders statuses for --keep sent-first; --keep oldest ignores status")
        }
        (KeepArg::Oldest, None) => Ok(Rule::oldest()),
        (KeepArg::SentFirst, None) => Ok(Rule::sent_first()),
        (KeepArg::SentFirst, Some(names)) => Rule::with_status_rank(names),
    }
}

/// Checks `dedupe`'s arguments.
pub fn dedupe_options(args: &crate::cli::DedupeArgs, global: &GlobalArgs) -> Result<crate::dedupe::Options> {
    let archive = Ident::new("archive table", &args.archive_table)?;
    if args.empty_steps_to_null && args.plan_file.is_some() {
        bail!("--plan-file lists the victims of a dedupe; --empty-steps-to-null deletes nothing (its --dry-run reports the rows)");
    }
    if args.empty_steps_to_null && global.metrics_file.is_some() {
        bail!(
            "--metrics-file is not written by dedupe --empty-steps-to-null (its report has the figures; --format json)"
        );
    }
    if let Some(path) = &args.plan_file {
        if path.is_dir() {
            bail!("--plan-file {} is a directory; give a file name such as plan.tsv", path.display());
        }
        crate::config::probe_writable(path, "--plan-file")?;
    }
    if args.max_replica_lag.is_some() && args.replica.is_empty() {
        bail!("--max-replica-lag needs at least one --replica URL to watch");
    }
    if args.sleep.is_some_and(|s| s >= global.idle_timeout) {
        bail!("--sleep must be shorter than --idle-timeout (the lock's connection is silent while seqfix sleeps)");
    }
    let mut replicas = Vec::new();
    for url in &args.replica {
        replicas.push(DbConfig::from_url(url, global.connect_timeout).context("--replica")?);
    }
    Ok(crate::dedupe::Options {
        rule: survivor_rule(&args.survivor)?,
        batch_size: batch_size(args.batch_size)?,
        archive,
        dry_run: args.dry_run,
        plan_file: args.plan_file.clone(),
        yes: args.yes,
        sleep: args.sleep.unwrap_or_default(),
        max_replica_lag: args.max_replica_lag.unwrap_or(Duration::from_secs(10)),
        replicas,
        lock_wait_timeout: args.lock_wait_timeout.max(Duration::from_secs(1)),
        empty_steps_to_null: args.empty_steps_to_null,
        allow_cascades: args.allow_cascades,
        mask_phones: global.mask_phones,
    })
}

/// Checks `restore`'s arguments.
pub fn restore_options(args: &crate::cli::RestoreArgs) -> Result<crate::restore::Options> {
    Ok(crate::restore::Options {
        run_id: args.run_id.trim().to_string(),
        archive: Ident::new("archive table", &args.archive_table)?,
        dry_run: args.dry_run,
        yes: args.yes,
        batch_size: batch_size(args.batch_size)?,
        sleep: args.sleep.unwrap_or_default(),
    })
}

/// Checks `migrate`'s arguments.
pub fn migrate_options(args: &crate::cli::MigrateArgs) -> crate::migrate::Options {
    use crate::migrate::Action;
    crate::migrate::Options {
        action: if args.status {
            Action::Status
        } else if args.down {
            Action::Down
        } else {
            Action::Up
        },
        dry_run: args.dry_run,
        yes: args.yes,
        max_trx_age: args.max_trx_age,
        trx_wait: args.trx_wait,
        lock_wait_timeout: args.lock_wait_timeout,
        retries: args.retries,
        check_duplicates_first: args.check_duplicates_first,
        galera_toi: args.galera_toi,
    }
}

/// Checks `process`'s arguments (clap has checked their ranges).
pub fn process_options(args: &crate::cli::ProcessArgs) -> crate::process::Options {
    crate::process::Options {
        dry_run: args.dry_run,
        batch_size: args.batch_size as usize,
        limit: args.limit,
        step_interval_secs: args.step_interval.as_secs(),
        lock_timeout: args.lock_timeout,
        min_interval: args.min_interval,
        lease_seconds: u64::from(args.lease_seconds),
        allow_node_local_lock: args.allow_node_local_lock,
        allow_without_index: args.allow_without_index,
        statements: None,
    }
}
