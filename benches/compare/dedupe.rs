//! Section 2 and 2b: `seqfix dedupe` against the bare minimum (window query + `DELETE ... IN`),
//! the archiving bare minimum and pt-archiver, and the original `DELETE ... JOIN` at small sizes.
use super::*;

/// The bare minimum dedupe on `url`: list victims, delete them 1000 per statement.
pub(crate) fn bare_dedupe(url: &str) -> usize {
    let mut c = conn(url);
    let victims = window_victims(&mut c);
    delete_ids(&mut c, &victims);
    victims.len()
}

/// The least a dedupe that archives must do: per 1,000 victims one transaction that locks
/// them, copies them into `bare_archive` (created beforehand, `LIKE` the table) and deletes
/// them. No kept-row check, no ledger; for the impact section's comparison.
pub(crate) fn archive_ids(c: &mut Conn, ids: &[String]) {
    for chunk in ids.chunks(1000) {
        let (marks, params) = id_params(chunk, "?");
        let mut tx = c.start_transaction(TxOpts::default()).unwrap();
        let _: Vec<String> =
            tx.exec(format!("SELECT id FROM {TABLE} WHERE id IN ({marks}) FOR UPDATE"), params.clone()).unwrap();
        tx.exec_drop(format!("INSERT INTO bare_archive SELECT * FROM {TABLE} WHERE id IN ({marks})"), params.clone())
            .unwrap();
        tx.exec_drop(format!("DELETE FROM {TABLE} WHERE id IN ({marks})"), params).unwrap();
        tx.commit().unwrap();
    }
}

/// pt-archiver given the victim list, as a DBA would script it: the window query's victims
/// loaded into `pt_victims`, then pt-archiver walks the table in primary-key order, 1,000
/// rows a chunk (`--where "id IN (SELECT id FROM pt_victims)"`), copies each victim into
/// `pt_archive` (created `LIKE` the table) and deletes each chunk in one statement
/// (`--bulk-delete`), committing every 1,000 rows. All of it is timed. The rows archived,
/// or what went wrong.
pub(crate) fn pt_archiver_dedupe(url: &str) -> Result<u64, String> {
    let mut c = conn(url);
    let victims = window_victims(&mut c);
    c.query_drop(format!(
        "CREATE TABLE pt_victims (id CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY); \
         CREATE TABLE pt_archive LIKE {TABLE}"
    ))
    .unwrap();
    for chunk in victims.chunks(1000) {
        let (marks, params) = id_params(chunk, "(?)");
        c.exec_drop(format!("INSERT INTO pt_victims (id) VALUES {marks}"), params).unwrap();
    }
    let o = Opts::from_url(url).unwrap();
    let dsn = format!(
        "h={},P={},u={},p={},D={},t={TABLE},A=utf8mb4",
        o.get_ip_or_hostname(),
        o.get_tcp_port(),
        o.get_user().unwrap_or("root"),
        o.get_pass().unwrap_or(""),
        o.get_db_name().unwrap_or(""),
    );
    let out = Command::new("pt-archiver")
        .args(["--source", &dsn, "--dest", "t=pt_archive", "--where", "id IN (SELECT id FROM pt_victims)"])
        .args(["--limit", "1000", "--txn-size", "1000", "--bulk-delete", "--no-safe-auto-increment"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pt-archiver: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("pt-archiver failed: {}", err.lines().next().unwrap_or("")));
    }
    Ok(count(&mut c, "SELECT COUNT(*) FROM pt_archive"))
}

pub(crate) fn dedupe_args() -> Vec<&'static str> {
    vec!["dedupe", "--yes", "--no-progress", "--format", "json", "--batch-size", "1000"]
}

pub(crate) fn dedupe_section(b: &mut Bench, src: &TestDb) {
    const S: &str = "2. dedupe";
    let expected = b.facts.get("window_surplus_rows").and_then(|v| v.as_u64()).unwrap_or(0);
    let (mut seqfix_t, mut bare_t, mut pt_t, mut floor) = (vec![], vec![], vec![], vec![]);
    let pt_installed = which("pt-archiver").is_some();
    let mut pt_failed = false;
    let mut pt_note = if pt_installed {
        "given the window query's victims (their listing timed too): walks the table by primary key, \
         archives to a table, --bulk-delete, commits every 1000 rows"
            .to_string()
    } else {
        "skipped: pt-archiver is not installed (Debian: apt-get install percona-toolkit)".to_string()
    };
    let mut note = String::new();
    let mut batch = json!(null);
    let mut rss = None;
    let mut available = true;
    for rep in 0..b.args.reps {
        if available {
            let db = b.copy_of(src, &format!("dedupe_seqfix_{rep}"));
            let run = b.seqfix(&db.url, &dedupe_args());
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    rss = Some(run.maxrss_kb);
                    let j = run.json().unwrap_or_default();
                    let deleted = j["deleted_rows"].as_u64().unwrap_or(u64::MAX);
                    let left = count(&mut conn(&db.url), COUNT_GROUPS);
                    if deleted != expected || left != 0 {
                        note = format!("deleted {deleted} of {expected} surplus rows, {left} groups left!");
                    }
                    b.facts.insert("dedupe_scan".into(), scan_figures(&j));
                    batch = json!({
                        "p50_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("p50")),
                        "p99_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("p99")),
                        "max_ms": find_number(&j, "", &|k| k.contains("batch") && k.contains("max")),
                        "batches": j.get("batches").cloned(),
                    });
                }
            }
        }
        floor.push(timed(|| fetch_all(&mut conn(&src.url), FLOOR_QUERY)).1);
        let db = b.copy_of(src, &format!("dedupe_bare_{rep}"));
        let (n, t) = timed(|| bare_dedupe(&db.url));
        assert_eq!(n as u64, expected, "the bare dedupe deleted a different number of rows");
        bare_t.push(t);
        drop(db);
        if pt_installed && !pt_failed {
            let db = b.copy_of(src, &format!("dedupe_pt_archiver_{rep}"));
            match timed(|| pt_archiver_dedupe(&db.url)) {
                (Ok(n), t) => {
                    let left = count(&mut conn(&db.url), COUNT_GROUPS);
                    if n != expected || left != 0 {
                        pt_note = format!("archived {n} of {expected} surplus rows, {left} groups left!");
                    }
                    pt_t.push(t);
                }
                (Err(e), _) => {
                    pt_note = e;
                    pt_failed = true;
                }
            }
        }
    }
    b.facts.insert("dedupe_batches".into(), batch);
    b.memory.push(("dedupe".into(), b.args.rows, rss, note.clone()));
    b.push(S, "seqfix dedupe (archive, ledger, batches of 1000)", seqfix_t, note);
    b.push(S, "bare minimum (window query + DELETE IN 1000 ids)", bare_t, "no archive, no ledger");
    // Issue 21's target: at most 0.6x the bare minimum (whose deletes are not in key order).
    b.compare(
        S,
        "seqfix dedupe (archive, ledger, batches of 1000)",
        "bare minimum (window query + DELETE IN 1000 ids)",
        Some(0.6),
    );
    b.push(S, FLOOR, floor, "on the source table; every row sent to the client and discarded");
    let seq = b.rows.iter().find(|r| r.section == S && r.contender.starts_with("seqfix dedupe")).cloned();
    if let Some(r) = seq {
        let vs_floor = "seqfix dedupe (vs the floor)";
        b.rows.push(Row { contender: vs_floor.into(), note: String::new(), ratio: None, target: None, met: None, ..r });
        b.compare(S, vs_floor, FLOOR, None);
    }
    b.compare(S, "bare minimum (window query + DELETE IN 1000 ids)", FLOOR, None);
    b.push(S, "pt-archiver", pt_t, pt_note);
    b.compare(S, "pt-archiver", "bare minimum (window query + DELETE IN 1000 ids)", None);
}

/// The original DELETE ... JOIN grows quadratically: small tables only, one run each.
pub(crate) fn join_section(b: &mut Bench) {
    const SJ: &str = "2b. original DELETE ... JOIN (one run per size)";
    for &n in &b.args.join_sizes.clone() {
        let (small, _) = b.load(&format!("join_src_{n}"), n, SEED);
        let mut c = conn(&small.url);
        let before = count(&mut c, COUNT_GROUPS);
        let db = b.copy_of(&small, &format!("join_orig_{n}"));
        let mut c = conn(&db.url);
        let t = timed(|| c.query_drop(ORIGINAL_DELETE).unwrap()).1;
        let left = count(&mut c, COUNT_GROUPS);
        let bare_db = b.copy_of(&small, &format!("join_bare_{n}"));
        let bare = timed(|| bare_dedupe(&bare_db.url)).1;
        b.push(SJ, &format!("bare minimum @ {n} rows"), vec![bare], "");
        b.push(
            SJ,
            &format!("original DELETE JOIN @ {n} rows"),
            vec![t],
            format!("left {left} of {before} duplicate groups behind"),
        );
        b.compare(SJ, &format!("original DELETE JOIN @ {n} rows"), &format!("bare minimum @ {n} rows"), None);
        b.facts
            .insert(format!("original_delete_{n}"), json!({"secs": t, "groups_before": before, "groups_left": left}));
        let db = b.copy_of(&small, &format!("join_seqfix_{n}"));
        let run = b.seqfix(&db.url, &dedupe_args());
        let note = run.problem().unwrap_or_else(|| {
            let left = count(&mut conn(&db.url), COUNT_GROUPS);
            format!("left {left} duplicate groups behind")
        });
        let times = if run.problem().is_none() { vec![run.secs] } else { vec![] };
        b.push(SJ, &format!("seqfix dedupe @ {n} rows"), times, note);
        b.compare(SJ, &format!("seqfix dedupe @ {n} rows"), &format!("bare minimum @ {n} rows"), None);
    }
}
