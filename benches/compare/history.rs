//! Section 5b: InnoDB's history list length during a scan, against a writer alone.
use super::*;

pub(crate) const HISTORY_LEN: &str =
    "SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'";

/// Samples InnoDB's history list length (transactions committed whose undo logs purge has
/// not yet removed) every 200 ms until `stop`.
pub(crate) fn history_sampler(mut c: Conn, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut v = vec![];
        while !stop.load(Ordering::Relaxed) {
            v.push(c.query_first(HISTORY_LEN).unwrap().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(200));
        }
        v
    })
}

/// Runs `work` while a sending writer (`writer_that`, sends) works on `url`'s messages
/// table and the history list is sampled; the samples.
pub(crate) fn history_during(b: &Bench, url: &str, work: impl FnOnce()) -> Vec<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer_that(url.to_string(), stop.clone(), true);
    std::thread::sleep(Duration::from_millis(300));
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let sampler = history_sampler(b.server.admin_conn(), sampler_stop.clone());
    work();
    sampler_stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    samples
}

pub(crate) fn history_stats(v: &[u64]) -> Json {
    let mut s = v.to_vec();
    s.sort_unstable();
    json!({"samples": s.len(), "max": s.last(), "p50": s.get(s.len() / 2)})
}

/// The history list during one `seqfix audit` of the source table while the live writer
/// inserts and marks messages sent, against the same writer alone for as long: a scan
/// that holds one read view for its whole run stops purge, so the list grows with the
/// writer's work for as long as the scan lasts. Target (issue 21): the audit's maximum is
/// at most the writer-alone maximum times 2, or plus 1,000, whichever is larger. Runs last:
/// the writer's rows stay in the source table (they are no duplicates).
pub(crate) fn history_section(b: &mut Bench, src: &TestDb) {
    let mut a = b.server.admin_conn();
    // MySQL says STATUS 'enabled', MariaDB ENABLED 1.
    let metric: Option<mysql::Row> =
        a.query_first("SELECT * FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").unwrap();
    let column =
        |name: &str| metric.as_ref().and_then(|r| r.get_opt::<Option<String>, _>(name)).and_then(|v| v.ok()).flatten();
    let enabled = column("STATUS").as_deref() == Some("enabled") || column("ENABLED").as_deref() == Some("1");
    let enabled_by_us = !enabled;
    if enabled_by_us {
        a.query_drop("SET GLOBAL innodb_monitor_enable = 'trx_rseg_history_len'").unwrap();
    }
    b.settle();
    let mut run = None;
    let audit = history_during(b, &src.url, || {
        let (r, secs) = timed(|| b.seqfix(&src.url, &["audit", "--format", "json", "--no-progress"]));
        run = Some((r, secs));
    });
    let (run, secs) = run.unwrap();
    b.settle();
    let idle = history_during(b, &src.url, || std::thread::sleep(Duration::from_secs_f64(secs)));
    let (audit_max, idle_max) = (audit.iter().max().copied().unwrap_or(0), idle.iter().max().copied().unwrap_or(0));
    let limit = (2 * idle_max).max(idle_max + 1000);
    let problem = run.problem();
    b.facts.insert(
        "history".into(),
        json!({
            "audit_secs": secs, "audit_problem": problem, "during_audit": history_stats(&audit),
            "writer_alone": history_stats(&idle), "limit": limit,
            "rule": "max during audit <= max(2 x writer-alone max, writer-alone max + 1000)",
            "target_met": problem.is_none().then_some(audit_max <= limit),
            "counter_enabled_by_the_benchmark": enabled_by_us,
        }),
    );
}

// ---------------------------------------------------------------------------------------
// Report
