//! Section 6: the seqfix process's peak RSS at two sizes.
use super::*;

pub(crate) fn memory_section(b: &mut Bench) {
    let small = if b.args.rows > 100_000 { 100_000 } else { (b.args.rows / 10).max(10_000) };
    let (src, _) = b.load("memory_small", small, SEED);
    let run = b.seqfix(&src.url, &["audit", "--format", "json", "--no-progress"]);
    let p = run.problem();
    b.memory.push(("audit".into(), small, p.is_none().then_some(run.maxrss_kb), p.unwrap_or_default()));
    let run = b.seqfix(&src.url, &dedupe_args());
    let p = run.problem();
    b.memory.push(("dedupe".into(), small, p.is_none().then_some(run.maxrss_kb), p.unwrap_or_default()));
}

// ---------------------------------------------------------------------------------------
// The history list during a scan
