//! Loads deterministic sequence-processing sample data (users, devices, sequences, steps,
//! leads, enrolled contacts in every situation `seqfix process` distinguishes) into a
//! throw-away database, for benchmarks and experiments:
//!
//!     cargo run --release --example contacts -- mysql://root@127.0.0.1:3306/sandbox 100000
//!
//! It creates the fixture tables, so the database must not already hold them.
use anyhow::{Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: contacts URL [CONTACTS] [SEED]")?;
    let contacts: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let cfg = seqfix::config::DbConfig::from_url(&url, std::time::Duration::from_secs(10))?;
    let mut db = seqfix::db::connect(&cfg)?;
    seqfix_fixture::messages::create_schema(&mut db.conn)?;
    let t = std::time::Instant::now();
    let world = seqfix_fixture::contacts::generate(&seqfix_fixture::contacts::ContactSpec::new(contacts, seed));
    seqfix_fixture::contacts::insert(&mut db.conn, &world)?;
    eprintln!(
        "loaded {} contacts, {} leads, {} steps, {} messages into {} in {:.1?}",
        world.contacts.len(),
        world.leads.len(),
        world.steps.len(),
        world.messages.len(),
        cfg.display(),
        t.elapsed()
    );
    Ok(())
}
