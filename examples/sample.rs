//! Loads deterministic sample data (production schema, about 8% duplicate sequence
//! messages) into a throw-away database. Used by `scripts/sandbox.sh` and for experiments:
//!
//!     cargo run --release --example sample -- mysql://root@127.0.0.1:3306/sandbox 100000
//!
//! It creates the fixture tables, so the database must not already hold them.
use anyhow::{Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: sample URL [ROWS] [SEED]")?;
    let rows: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let cfg = seqfix::config::DbConfig::from_url(&url, std::time::Duration::from_secs(10))?;
    let mut db = seqfix::db::connect(&cfg)?;
    seqfix::fixture::create_schema(&mut db.conn)?;
    let table = seqfix::config::Ident::new("table", "broadcast_messages")?;
    let t = std::time::Instant::now();
    let n = seqfix::fixture::insert(
        &mut db.conn,
        &table,
        seqfix::fixture::generate(&seqfix::fixture::Spec::new(rows, seed)),
    )?;
    eprintln!("loaded {n} sample messages into {} in {:.1?}", cfg.display(), t.elapsed());
    Ok(())
}
