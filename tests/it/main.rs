//! Integration tests: the real `seqfix` binary against a real MariaDB server.
#[path = "../common/mod.rs"]
mod common;

mod audit;
mod cascades;
mod cluster;
mod collations;
mod dedupe;
mod empty_steps;
mod masking;
mod migrate;
mod migrate_locks;
mod ops;
mod process;
mod status;
mod survivor;
mod tls;
