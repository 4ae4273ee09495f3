//! The 3-node Galera cluster: seqfix against every node of a real cluster (MariaDB pass only).
use std::collections::BTreeMap;
use std::process::Child;
use std::time::Instant;

use mysql::prelude::Queryable;

use seqfix_fixture::contacts::{self as fixture_contacts, ContactSpec, World};

use crate::common::cluster::{Cluster, ClusterDb};
use crate::process;

/// The harness's cluster is real: three Synced nodes, and a row written through one node is
/// read through the others.
#[test]
fn the_cluster_has_three_synced_nodes_that_replicate() {
    let Some(cluster) = Cluster::shared() else { return };
    let db = cluster.fresh_db("cluster_replicates");
    db.conn_on(0).query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)").unwrap();
    db.conn_on(1).query_drop("INSERT INTO t VALUES (1, 10)").unwrap();
    db.conn_on(2).query_drop("INSERT INTO t VALUES (2, 20)").unwrap();
    for i in 0..3 {
        let mut c = db.conn_on(i);
        c.query_drop("SET SESSION wsrep_sync_wait = 1").unwrap();
        let size: (String, String) = c.query_first("SHOW STATUS LIKE 'wsrep_cluster_size'").unwrap().unwrap();
        assert_eq!(size.1, "3", "node {} sees the cluster size", i + 1);
        let sum: i64 = c.query_first("SELECT SUM(v) FROM t").unwrap().unwrap();
        assert_eq!(sum, 30, "node {} reads both rows", i + 1);
    }
}

/// A connection to node `i` whose reads wait until the node has applied everything the
/// cluster committed before them: after one such read the node holds it all, for every
/// connection.
fn synced(db: &ClusterDb, i: usize) -> mysql::Conn {
    let mut c = db.conn_on(i);
    c.query_drop("SET SESSION wsrep_sync_wait = 1").unwrap();
    let _: Option<u64> = c.query_first("SELECT COUNT(*) FROM sequence_contacts").unwrap();
    c
}

/// A new world of contacts in the same tables (the unique index stays): the rows of the
/// previous one deleted through node 1, the new one inserted there.
fn reload(db: &ClusterDb, seed: u64) -> World {
    let mut c = db.conn_on(0);
    for table in [
        "sequence_logs",
        "broadcast_messages",
        "sequence_contacts",
        "sequence_steps",
        "sequences",
        "leads",
        "user_devices",
    ] {
        c.query_drop(format!("DELETE FROM {table}")).unwrap();
    }
    let world = fixture_contacts::generate(&ContactSpec::new(80, seed));
    fixture_contacts::insert(&mut c, &world).unwrap();
    world
}

/// Issue 18's first "done when": two and then four `seqfix process` runs started at once
/// against different nodes, no override flag, for 20 rounds. Each round's expectation comes
/// from the contract applied to the test's own copy of the data (`process::expected`): every
/// due contact's message queued exactly once, every contact advanced once, and the reports'
/// counts summed over the runs exact. The lease's fence counts the claims: one per run that
/// worked, none for a run that skipped, so at the end it equals the runs that reported work.
#[test]
fn process_runs_at_once_on_every_node_queue_each_message_once() {
    let Some(cluster) = Cluster::shared() else { return };
    let cdb = cluster.fresh_db("cluster_process");
    let db = &cdb.db;
    let started = Instant::now();
    let mut w = process::load(db, 80, 31, true);
    let mut worked = 0u64;
    let mut skipped = 0u64;
    let mut queued = 0u64;
    for round in 0..20 {
        if round > 0 {
            w = reload(&cdb, 31 + round);
        }
        for runs in [2usize, 4] {
            let exp = process::expected(&w);
            let want = process::tally(&exp);
            if runs == 2 {
                assert!(want["queued"] > 0 && want["completed"] > 0, "round {round} has work: {want:?}");
            }
            queued += want["queued"];
            let children: Vec<Child> = (0..runs)
                .map(|i| {
                    cdb.seqfix_on(i % 3)
                        .args(["process", "--format", "json", "--batch-size", "4", "--min-interval", "0s"])
                        .spawn()
                })
                .collect();
            let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
            let mut ran = 0;
            for r in process::finish(children) {
                assert_eq!(r.code, 0, "round {round}, {runs} runs:\n{}\n{}", r.stdout, r.stderr);
                let j = r.json();
                match j["skipped"].as_str() {
                    None => {
                        ran += 1;
                        for (k, v) in process::counts(&j) {
                            if !matches!(k, "no_step" | "no_lead" | "device_offline") {
                                *total.entry(k).or_default() += v;
                            }
                        }
                    }
                    Some("locked") => skipped += 1,
                    Some(other) => panic!("round {round}: skipped {other}: {j}"),
                }
            }
            assert!(ran >= 1, "round {round}, {runs} runs: someone ran");
            worked += ran;
            for k in ["queued", "already_queued", "requeued", "completed"] {
                assert_eq!(total.get(k).copied().unwrap_or(0), want[k], "round {round}, {runs} runs: {k}");
            }
            let mut c = synced(&cdb, 0);
            let dups: u64 = c
                .query_first(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM broadcast_messages GROUP BY sequence_stepid, \
                     recipient_phone, device_id HAVING COUNT(*) > 1) d",
                )
                .unwrap()
                .unwrap();
            assert_eq!(dups, 0, "round {round}");
            let before = w.messages.len();
            process::advance_world(db, &mut w, &exp);
            assert_eq!(w.messages.len() - before, want["queued"] as usize, "round {round}: each message once");
            assert_eq!(db.count("broadcast_messages"), w.messages.len() as u64, "round {round}");
            // Every contact where the rules put it: advanced once (or completed), no more.
            let rows: Vec<(String, i64, String)> =
                c.query("SELECT id, current_step, status FROM sequence_contacts").unwrap();
            let found: BTreeMap<String, (i64, String)> = rows.into_iter().map(|(id, s, st)| (id, (s, st))).collect();
            for contact in &w.contacts {
                assert_eq!(
                    found.get(&contact.id),
                    Some(&(contact.current_step as i64, contact.status.clone())),
                    "round {round}, {runs} runs: contact {}",
                    contact.id
                );
            }
        }
    }
    assert!(skipped > 0, "some runs met a held lease");
    // The fence, read through every node: one claim per run that worked.
    for i in 0..3 {
        let (fence, live): (u64, i64) = synced(&cdb, i)
            .query_first("SELECT fence, expires_at > NOW(6) FROM seqfix_leases WHERE name = 'process'")
            .unwrap()
            .unwrap();
        assert_eq!((fence, live), (worked, 0), "node {}", i + 1);
    }
    eprintln!(
        "cluster process test: 20 rounds of 2 and 4 runs, {worked} worked, {skipped} skipped, {queued} messages \
         queued, {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // A live lease, written through node 1, is what status reports on every node.
    db.conn()
        .query_drop(
            "UPDATE seqfix_leases SET holder = 'r-held', node = 'node1 (test)', expires_at = NOW(6) + INTERVAL 1 MINUTE \
             WHERE name = 'process'",
        )
        .unwrap();
    for i in 0..3 {
        let j = cdb.seqfix_on(i).args(["status", "--format", "json", "--skip-duplicates"]).run().json();
        let lease = &j["process_lease"];
        assert_eq!(
            (lease["holder"].as_str(), lease["fence"].as_u64(), lease["held"].as_bool()),
            (Some("r-held"), Some(worked), Some(true)),
            "status through node {}: {j}",
            i + 1
        );
        // And a process run against any node skips.
        let j =
            cdb.seqfix_on(i).args(["process", "--format", "json", "--min-interval", "0s"]).run().expect_code(0).json();
        assert_eq!(
            (j["skipped"].as_str(), j["lease"]["holder"].as_str()),
            (Some("locked"), Some("r-held")),
            "node {}",
            i + 1
        );
    }
}
