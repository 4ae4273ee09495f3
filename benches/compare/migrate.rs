//! Section 3: `seqfix migrate` against a bare `ALTER TABLE ... ADD UNIQUE INDEX`.
use super::*;

pub(crate) fn migrate_section(b: &mut Bench, clean: &TestDb) {
    const S: &str = "3. migrate";
    let (mut seqfix_t, mut bare_t) = (vec![], vec![]);
    let mut note = String::new();
    let mut available = true;
    for rep in 0..b.args.reps {
        if available {
            let db = b.copy_of(clean, &format!("migrate_seqfix_{rep}"));
            let run = b.seqfix(&db.url, &["migrate", "--format", "json", "--no-progress"]);
            match run.problem() {
                Some(p) => {
                    available = !run.unavailable();
                    note = p;
                }
                None => {
                    seqfix_t.push(run.secs);
                    if !has_unique_index(&mut conn(&db.url)) {
                        note = "the unique index is missing after migrate!".into();
                    }
                }
            }
        }
        let db = b.copy_of(clean, &format!("migrate_bare_{rep}"));
        let mut c = conn(&db.url);
        bare_t.push(timed(|| c.query_drop(BARE_ALTER).unwrap()).1);
    }
    b.push(S, "seqfix migrate (preflight + online build)", seqfix_t, note);
    b.push(S, "bare ALTER TABLE ... ADD UNIQUE INDEX", bare_t, "on the deduplicated copy");
    b.compare(S, "seqfix migrate (preflight + online build)", "bare ALTER TABLE ... ADD UNIQUE INDEX", Some(1.2));
}

// ---------------------------------------------------------------------------------------
// process
