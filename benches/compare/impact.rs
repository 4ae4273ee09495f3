//! Section 5: a writer's insert latency while seqfix and the bare minimums work on its table.
use super::*;

/// When each single-row autocommit insert started and its latency (ms); one every 5 ms.
pub(crate) type Samples = Vec<(Instant, f64)>;

/// Inserts one row every 5 ms until `stop`, timing each.
pub(crate) fn writer(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Samples> {
    writer_that(url, stop, false)
}

/// `writer`; with `sends`, each insert is followed by an autocommit `UPDATE` marking the
/// row inserted ten steps before as sent, as the application's sender does. (Updates leave
/// undo logs for purge on every server; MySQL discards an insert's at commit.)
pub(crate) fn writer_that(url: String, stop: Arc<AtomicBool>, sends: bool) -> std::thread::JoinHandle<Samples> {
    std::thread::spawn(move || {
        let mut c = conn(&url);
        let stmt = c
            .prep(
                "INSERT INTO broadcast_messages (id, user_id, device_id, sequence_id, sequence_stepid, \
                 recipient_phone, message_type, content, status, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, 'text', 'live insert', 'pending', NOW())",
            )
            .unwrap();
        let sent = c.prep("UPDATE broadcast_messages SET status = 'sent', sent_at = NOW() WHERE id = ?").unwrap();
        let mut lat = Vec::new();
        let mut recent = std::collections::VecDeque::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let id = uuid::Uuid::new_v4().to_string();
            let step = uuid::Uuid::new_v4().to_string();
            let t = Instant::now();
            let r = c.exec_drop(&stmt, (&id, &id, &id, &id, &step, format!("609{i:08}")));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if r.is_ok() {
                lat.push((t, ms));
            }
            if sends {
                recent.push_back(id);
                if recent.len() > 10 {
                    let _ = c.exec_drop(&sent, (recent.pop_front().unwrap(),));
                }
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        lat
    })
}

/// Latencies (ms) of the samples that started within [from, to).
pub(crate) fn window(samples: &Samples, from: Instant, to: Instant) -> Vec<f64> {
    samples.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, ms)| *ms).collect()
}

pub(crate) fn latency_stats(mut v: Vec<f64>) -> Json {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let over_1ms = v.iter().filter(|ms| **ms > 1.0).count();
    json!({"inserts": v.len(), "p50_ms": percentile(&v, 50.0), "p99_ms": percentile(&v, 99.0),
           "max_ms": v.last().copied().unwrap_or(f64::NAN),
           "over_1ms_pct": if v.is_empty() { f64::NAN } else { 100.0 * over_1ms as f64 / v.len() as f64 }})
}

/// Runs `work` while the writer inserts into `url`'s messages table; the latencies of the
/// inserts made while `work` ran, and all the samples (for figures by phase).
pub(crate) fn with_writer(url: &str, work: impl FnOnce()) -> (Vec<f64>, Samples) {
    let stop = Arc::new(AtomicBool::new(false));
    let h = writer(url.to_string(), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    work();
    let ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let samples = h.join().unwrap();
    (window(&samples, started, ended), samples)
}

/// One bare-minimum dedupe of a fresh copy of `src` under the writer (`archive`: each
/// batch of 1,000 victims locked, copied into `bare_archive` and deleted in one
/// transaction; otherwise only deleted): the writer's latencies during all of it, during
/// its window query, and during its batches.
pub(crate) fn bare_round(b: &Bench, src: &TestDb, label: &str, archive: bool) -> [Vec<f64>; 3] {
    let db = b.copy_of(src, label);
    if archive {
        conn(&db.url).query_drop(format!("CREATE TABLE bare_archive LIKE {TABLE}")).unwrap();
    }
    let mut marks = None;
    let (during, samples) = with_writer(&db.url, || {
        let mut c = conn(&db.url);
        let started = Instant::now();
        let victims = window_victims(&mut c);
        let listed = Instant::now();
        if archive {
            archive_ids(&mut c, &victims);
        } else {
            delete_ids(&mut c, &victims);
        }
        marks = Some((started, listed, Instant::now()));
    });
    let (from, mid, to) = marks.expect("the bare round ran");
    [during, window(&samples, from, mid), window(&samples, mid, to)]
}

/// The writer's latencies, pooled over `--reps` rounds: a p99 from one run of a few
/// seconds (about a thousand inserts) is its tenth-slowest insert, and moves by half
/// between runs on a shared machine. Each round measures the idle server, seqfix dedupe,
/// the bare minimum and the bare minimum that archives one after the other, each on a
/// fresh copy, so that background noise hits them alike.
pub(crate) fn impact_section(b: &mut Bench, src: &TestDb, clean: &TestDb) {
    let idle_secs = b.args.writer_idle_secs;
    let (mut idle, mut during_dedupe, mut dedupe_scan, mut dedupe_batches) = (vec![], vec![], vec![], vec![]);
    // [during all of it, during its window query, during its batches]
    let (mut bare, mut archiving): ([Vec<f64>; 3], [Vec<f64>; 3]) = Default::default();
    let mut what = "seqfix dedupe".to_string();
    let mut run_note = String::new();
    for rep in 0..b.args.reps {
        let db = b.copy_of(src, &format!("impact_idle_{rep}"));
        idle.extend(with_writer(&db.url, || std::thread::sleep(Duration::from_secs(idle_secs))).0);
        drop(db);

        // seqfix dedupe, and the writer's figures in its two phases: the scan and the
        // batches (scan_ms from its report marks the boundary).
        let db = b.copy_of(src, &format!("impact_dedupe_{rep}"));
        let mut phases = None;
        let (during, samples) = with_writer(&db.url, || {
            let started = Instant::now();
            let run = b.seqfix(&db.url, &dedupe_args());
            if run.unavailable() {
                what = format!("bare minimum dedupe (seqfix dedupe {NOT_AVAILABLE})");
                bare_dedupe(&db.url);
            } else if let Some(p) = run.problem() {
                run_note = p;
            } else if let Some(scan_ms) = run.json().and_then(|j| j["scan_ms"].as_u64()) {
                phases = Some((started, started + Duration::from_millis(scan_ms), Instant::now()));
            }
        });
        during_dedupe.extend(during);
        if let Some((from, mid, to)) = phases {
            dedupe_scan.extend(window(&samples, from, mid));
            dedupe_batches.extend(window(&samples, mid, to));
        }
        drop(db);

        // The bare minimum under the same writer: how much of the impact is any dedupe's;
        // then the same with the archive copy every dedupe that loses nothing must make.
        for (pooled, run) in bare.iter_mut().zip(bare_round(b, src, &format!("impact_bare_{rep}"), false)) {
            pooled.extend(run);
        }
        for (pooled, run) in archiving.iter_mut().zip(bare_round(b, src, &format!("impact_archiving_{rep}"), true)) {
            pooled.extend(run);
        }
    }
    let (idle, during_dedupe) = (latency_stats(idle), latency_stats(during_dedupe));
    let phase = |v: Vec<f64>| if v.is_empty() { json!(null) } else { latency_stats(v) };
    let (dedupe_scan, dedupe_batches) = (phase(dedupe_scan), phase(dedupe_batches));
    let [during_bare, bare_query, bare_deletes] = bare.map(latency_stats);
    let [during_archiving, archiving_query, archiving_batches] = archiving.map(latency_stats);

    let db = b.copy_of(clean, "impact_migrate");
    let mut what_m = "seqfix migrate".to_string();
    let (during_migrate, _) = with_writer(&db.url, || {
        let run = b.seqfix(&db.url, &["migrate", "--format", "json", "--no-progress"]);
        if run.unavailable() {
            what_m = format!("bare ALTER (seqfix migrate {NOT_AVAILABLE})");
            conn(&db.url).query_drop(BARE_ALTER).unwrap();
        }
    });
    let during_migrate = latency_stats(during_migrate);
    let idle_p99 = idle["p99_ms"].as_f64().unwrap_or(f64::NAN);
    let dedupe_p99 = during_dedupe["p99_ms"].as_f64().unwrap_or(f64::NAN);
    let met = if what == "seqfix dedupe" && run_note.is_empty() { Some(dedupe_p99 <= 2.0 * idle_p99) } else { None };
    b.facts.insert(
        "writer".into(),
        json!({
            "idle": idle, "during_dedupe": during_dedupe, "during_dedupe_of": what, "dedupe_problem": run_note,
            "during_dedupe_scan": dedupe_scan, "during_dedupe_batches": dedupe_batches,
            "during_bare": during_bare, "during_bare_query": bare_query, "during_bare_deletes": bare_deletes,
            "during_archiving": during_archiving, "during_archiving_query": archiving_query,
            "during_archiving_batches": archiving_batches,
            "during_migrate": during_migrate, "during_migrate_of": what_m, "rounds": b.args.reps,
            "p99_ratio_dedupe_vs_idle": dedupe_p99 / idle_p99, "target_met": met,
        }),
    );
}

// ---------------------------------------------------------------------------------------
// Memory at two sizes
