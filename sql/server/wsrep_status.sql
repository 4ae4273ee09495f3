-- Galera: this node's view of its cluster (asked only where wsrep_on is ON). The values are
-- text: wsrep_cluster_size a count, wsrep_cluster_status Primary (else the node is cut off
-- from the quorum and refuses work), wsrep_local_state_comment Synced (else Joining, Donor/
-- Desynced, Joined, ...), wsrep_flow_control_paused the fraction of time replication was
-- paused by flow control since the last FLUSH STATUS, wsrep_incoming_addresses the nodes'
-- SQL addresses (host:port, comma-separated; empty for an arbitrator).
SHOW GLOBAL STATUS WHERE Variable_name IN
  ('wsrep_cluster_size', 'wsrep_cluster_status', 'wsrep_local_state_comment', 'wsrep_flow_control_paused',
   'wsrep_incoming_addresses')
