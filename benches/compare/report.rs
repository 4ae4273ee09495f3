//! The results: the machine's facts, the summary table, the markdown section of
//! docs/benchmarks.md and its writing between the markers.
use super::*;

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    std::env::var("PATH").ok()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

pub(crate) fn machine(b: &Bench) -> Json {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (version, pool): (String, u64) =
        b.server.admin_conn().query_first("SELECT VERSION(), @@innodb_buffer_pool_size").unwrap().unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    json!({"cpu": cpu, "cores": cores, "load_average_at_end": load.join(" "), "ram_gib": (ram_kb as f64 / 1048576.0 * 10.0).round() / 10.0,
           "server": version, "innodb_buffer_pool_size": pool, "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()})
}

pub(crate) fn fmt_s(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

pub(crate) fn fmt_ratio(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into())
}

pub(crate) fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    }
}

pub(crate) fn mb(kb: Option<i64>) -> String {
    kb.map(|k| format!("{:.1}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into())
}

/// Peak RSS verdict: under 64 MB everywhere, and "flat": the larger size needs at most
/// 1.5x the memory of the smaller one.
pub(crate) fn memory_verdict(mem: &[(String, usize, Option<i64>, String)]) -> (Option<bool>, Vec<String>) {
    let mut notes = vec![];
    let mut ok = true;
    let mut any = false;
    for cmd in ["audit", "dedupe", "process"] {
        let mut m: Vec<(usize, i64)> =
            mem.iter().filter(|r| r.0 == cmd).filter_map(|r| r.2.map(|k| (r.1, k))).collect();
        m.sort();
        m.dedup_by_key(|r| r.0);
        if m.is_empty() {
            continue;
        }
        any = true;
        let max = m.iter().map(|r| r.1).max().unwrap();
        let under = max < 64 * 1024;
        let flat = m.len() < 2 || (m.last().unwrap().1 as f64) <= 1.5 * m[0].1 as f64;
        ok &= under && flat;
        let unit = if cmd == "process" { "contacts" } else { "rows" };
        notes.push(format!(
            "{cmd}: {} ({}, {})",
            m.iter().map(|(n, k)| format!("{n} {unit} {} MB", mb(Some(*k)))).collect::<Vec<_>>().join(", "),
            if under { "under 64 MB" } else { "OVER 64 MB" },
            if m.len() < 2 {
                "one size only"
            } else if flat {
                "flat"
            } else {
                "NOT flat"
            }
        ));
    }
    (any.then_some(ok), notes)
}

pub(crate) fn summary_table(b: &Bench) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(["section", "contender", "median s", "runs (s)", "ratio", "target", "result", "note"]);
    for r in &b.rows {
        let runs: Vec<String> = r.times.iter().map(|x| format!("{x:.2}")).collect();
        t.add_row([
            r.section.clone(),
            r.contender.clone(),
            fmt_s(r.median_s),
            runs.join(" "),
            fmt_ratio(r.ratio),
            r.target.clone().unwrap_or_default(),
            verdict(r.met).into(),
            r.note.clone(),
        ]);
    }
    t
}

pub(crate) fn markdown(b: &Bench, mach: &Json, load_secs: f64) -> String {
    let mut s = String::new();
    let (marker, title) = doc_section(&b.args);
    s += &format!("<!-- {marker}:start (written by `cargo bench --bench compare`; edits here are overwritten) -->\n");
    s += &format!("## {title}\n\n");
    s += &format!(
        "- Data: {} rows of the production schema from the deterministic generator (seed {SEED}), {} surplus rows \
         in {} duplicate groups (window query); loaded in {load_secs:.1} s.\n",
        b.args.rows,
        b.facts.get("window_surplus_rows").cloned().unwrap_or(json!("?")),
        b.facts.get("audit_duplicate_groups").cloned().unwrap_or(json!("?")),
    );
    s += &format!(
        "- Machine: {} ({} cores), {} GiB RAM, load average at the end {}, server {} (private instance: \
         innodb_buffer_pool_size={}, redo log 512M-1G, innodb_io_capacity=2000, \
         innodb_flush_log_at_trx_commit=2, {}).\n",
        mach["cpu"].as_str().unwrap_or("?"),
        mach["cores"],
        mach["ram_gib"],
        mach["load_average_at_end"].as_str().unwrap_or("?"),
        mach["server"].as_str().unwrap_or("?"),
        b.args.buffer_pool,
        if b.args.server == "mysql" {
            "binary log on in ROW format with GTIDs, as MySQL ships"
        } else {
            "no binary log"
        }
    );
    s += &format!(
        "- Each contender ran {} times on an identical fresh copy of the data (copying excluded from the times); \
         the median is reported. seqfix times are wall-clock times of the release binary, including process start \
         and connection.\n",
        b.args.reps
    );
    s += &format!("- Reproduce: `{}`\n\n", b.args.command_line());
    s += "| section | contender | median s | runs (s) | ratio | target | result | note |\n";
    s += "|---|---|---:|---|---:|---|---|---|\n";
    for r in &b.rows {
        let runs: Vec<String> = r.times.iter().map(|x| format!("{x:.2}")).collect();
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.section,
            r.contender,
            fmt_s(r.median_s),
            runs.join(" "),
            fmt_ratio(r.ratio),
            r.target.clone().unwrap_or_default().replace('<', "&lt;"),
            verdict(r.met),
            r.note.replace('|', "\\|")
        );
    }
    let w = &b.facts.get("writer").cloned().unwrap_or(json!({}));
    let st = |k: &str| {
        let x = &w[k];
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1}% over 1 ms ({} inserts)",
            x["p50_ms"].as_f64().unwrap_or(f64::NAN),
            x["p99_ms"].as_f64().unwrap_or(f64::NAN),
            x["max_ms"].as_f64().unwrap_or(f64::NAN),
            x["over_1ms_pct"].as_f64().unwrap_or(f64::NAN),
            x["inserts"]
        )
    };
    s += "\n### The scan (from seqfix's JSON report)\n\n";
    let mut verdicts = vec![];
    for (what, key) in [("audit", "audit_scan"), ("dedupe", "dedupe_scan")] {
        let (line, ok) = scan_line(&b.facts, key);
        s += &format!("- {what}: {line}\n");
        verdicts.extend(ok);
    }
    s += &format!(
        "- target: no statement of the scan longer than 2 s: {}\n",
        if !b.facts.contains_key("audit_scan") && !b.facts.contains_key("dedupe_scan") {
            "not judged (neither ran)"
        } else if verdicts.is_empty() {
            "not reported by this build"
        } else if verdicts.iter().all(|v| *v) {
            "met"
        } else {
            "MISSED"
        }
    );
    s += "\n### 5. Impact on the live application\n\n";
    if w.get("idle").is_none() {
        s += "- not run\n";
    } else {
        s += &format!(
            "A writer thread inserts one new message per autocommit statement, every 5 ms, into the table being \
             worked on. Idle, dedupe and the two bare minimums: the inserts of {} rounds pooled (each on a fresh copy); \
             migrate: one run.\n\n",
            w["rounds"]
        );
        s += &format!("- idle server: {}\n", st("idle"));
        s += &format!("- during {}: {}\n", w["during_dedupe_of"].as_str().unwrap_or("?"), st("during_dedupe"));
        if w["during_dedupe_scan"].is_object() {
            s += &format!("  - its scan (candidate rows sent to seqfix): {}\n", st("during_dedupe_scan"));
            s += &format!("  - its batches: {}\n", st("during_dedupe_batches"));
        }
        s += &format!("- during the bare minimum dedupe (for comparison): {}\n", st("during_bare"));
        s += &format!("  - its window query: {}\n", st("during_bare_query"));
        s += &format!("  - its DELETEs: {}\n", st("during_bare_deletes"));
        if w["during_archiving"].is_object() {
            s += &format!(
                "- during the bare minimum that archives (window query, then per 1,000 victims one transaction: \
                 lock, copy into an archive, delete): {}\n",
                st("during_archiving")
            );
            s += &format!("  - its window query: {}\n", st("during_archiving_query"));
            s += &format!("  - its transactions: {}\n", st("during_archiving_batches"));
        }
        s += &format!("- during {}: {}\n", w["during_migrate_of"].as_str().unwrap_or("?"), st("during_migrate"));
        s += &format!(
            "- target: writer p99 during dedupe <= 2x idle p99: ratio {:.2}x, {}\n",
            w["p99_ratio_dedupe_vs_idle"].as_f64().unwrap_or(f64::NAN),
            match w["target_met"].as_bool() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not judged (seqfix dedupe did not run)",
            }
        );
    }
    let batch = &b.facts.get("dedupe_batches").cloned().unwrap_or(json!({}));
    let bf = |k: &str| batch[k].as_f64().map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "not reported".into());
    s += &format!(
        "- dedupe batch transactions (from its JSON report): p50 {}, p99 {}, max {}\n",
        bf("p50_ms"),
        bf("p99_ms"),
        bf("max_ms")
    );
    let h = b.facts.get("history").cloned().unwrap_or(json!(null));
    s += "\n### 5b. InnoDB's history list during a scan\n\n";
    if h.is_null() {
        s += "- not run\n";
    } else {
        s += &format!(
            "A writer inserts one message every 5 ms and marks the message it inserted ten steps before as sent \
             (autocommit); `trx_rseg_history_len` sampled every 200 ms, during one seqfix audit of the source \
             table ({:.1} s) and for as long with the writer alone.\n\n",
            h["audit_secs"].as_f64().unwrap_or(f64::NAN)
        );
        let hs = |k: &str| format!("max {}, median {} ({} samples)", h[k]["max"], h[k]["p50"], h[k]["samples"]);
        s += &format!("- writer alone: {}\n", hs("writer_alone"));
        s += &format!("- during seqfix audit: {}\n", hs("during_audit"));
        s += &format!(
            "- target: audit's maximum no higher than the writer alone's times 2 or plus 1,000, whichever is larger \
             (here {}): {}\n",
            h["limit"],
            match h["target_met"].as_bool() {
                Some(true) => "met".to_string(),
                Some(false) => "MISSED".to_string(),
                None => format!("not judged ({})", h["audit_problem"].as_str().unwrap_or("seqfix audit did not run")),
            }
        );
    }
    let (mem_ok, notes) = memory_verdict(&b.memory);
    s += "\n### 6. Peak RSS of the seqfix process (VmHWM of the process, sampled every 5 ms)\n\n";
    if notes.is_empty() {
        s += "- no seqfix subcommand ran\n";
    }
    for n in notes {
        s += &format!("- {n}\n");
    }
    s += &format!(
        "- target: under 64 MB and flat: {}\n",
        match mem_ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not judged",
        }
    );
    s += &format!("<!-- {marker}:end -->\n");
    s
}

/// The size as a marker's suffix: 10m, 1m, 100k (or the number).
pub(crate) fn size_label(rows: usize) -> String {
    match rows {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The marker and title of a run's results section in docs/benchmarks.md. A full run at
/// the default 1,000,000 rows writes the server's "Latest results"; any other run (another
/// size, or `--only` some sections, as a run at scale is) writes a section of its own, keyed
/// by server and size, so that the sizes sit side by side.
pub(crate) fn doc_section(args: &Args) -> (String, String) {
    let (base, name) = if args.server == "mysql" { ("results-mysql", "MySQL") } else { ("results", "MariaDB") };
    if args.only.is_none() && args.rows == 1_000_000 {
        return (base.into(), format!("Latest results on {name}"));
    }
    let what = match &args.only {
        Some(o) => format!(", sections {}", o.join(", ")),
        None => String::new(),
    };
    (format!("{base}-{}", size_label(args.rows)), format!("Results at {} rows on {name}{what}", size_label(args.rows)))
}

/// Replaces the section `marker` of docs/benchmarks.md, keeping the hand-written text and
/// the other sections; a new section goes after the last results section.
pub(crate) fn write_doc(results: &str, marker: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    let (start, stop) = (format!("<!-- {marker}:start"), format!("<!-- {marker}:end -->"));
    let new = match (old.find(&start), old.find(&stop)) {
        (Some(a), Some(z)) => {
            let end = z + stop.len() + 1;
            format!("{}{}{}", &old[..a], results, old.get(end..).unwrap_or(""))
        }
        _ => {
            let last_end = old
                .match_indices("<!-- results")
                .filter_map(|(i, _)| {
                    let end = old[i..].find("-->").map(|j| i + j + "-->".len())?;
                    old[i..end].ends_with(":end -->").then_some((end + 1).min(old.len()))
                })
                .last();
            match last_end {
                Some(end) => format!("{}\n{}{}", &old[..end], results, &old[end..]),
                None => format!("{old}\n{results}"),
            }
        }
    };
    std::fs::write(&path, new).unwrap();
}
