//! Loads deterministic sample data (production schema, about 8% duplicate sequence
//! messages, and contacts enrolled in sequences so that `seqfix process` has work) into a
//! throw-away database. Used by `scripts/sandbox.sh` and for experiments:
//!
//!     cargo run --release --example sample -- mysql://root@127.0.0.1:3306/sandbox 100000 [SEED] [CONTACTS]
//!
//! CONTACTS defaults to one per 50 messages.
//! It creates the fixture tables, so the database must not already hold them.
use anyhow::{Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: sample URL [ROWS] [SEED] [CONTACTS]")?;
    let rows: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let contacts: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or((rows / 50).max(100));
    let cfg = seqfix::config::DbConfig::from_url(&url, std::time::Duration::from_secs(10))?;
    let mut db = seqfix::db::connect(&cfg)?;
    seqfix_fixture::messages::create_schema(&mut db.conn)?;
    let table = seqfix::ident::Ident::new("table", "broadcast_messages")?;
    let t = std::time::Instant::now();
    let n = seqfix_fixture::messages::insert(
        &mut db.conn,
        &table,
        seqfix_fixture::messages::generate(&seqfix_fixture::messages::Spec::new(rows, seed)),
    )?;
    // Another seed for the contacts: both generators draw their ids from a generator seeded
    // alike, so the same seed would give the contacts' messages the ids of the first messages.
    let contact_seed = seed ^ 0x5eed_c0de_0000_0001;
    let world = seqfix_fixture::contacts::generate(&seqfix_fixture::contacts::ContactSpec::new(contacts, contact_seed));
    seqfix_fixture::contacts::insert(&mut db.conn, &world)?;
    eprintln!(
        "loaded {n} sample messages and {} contacts in {} sequences into {} in {:.1?}",
        world.contacts.len(),
        world.sequences.len(),
        cfg.display(),
        t.elapsed()
    );
    Ok(())
}
