//! The 3-node Galera cluster: seqfix against every node of a real cluster (MariaDB pass only).
use mysql::prelude::Queryable;

use crate::common::cluster::Cluster;

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
