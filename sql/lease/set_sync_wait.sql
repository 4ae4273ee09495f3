-- Galera: 1 makes every read wait until this node has applied all the cluster committed
-- before it (https://mariadb.com/kb/en/galera-cluster-system-variables/#wsrep_sync_wait);
-- harmless on a server that is not a cluster node.
SET SESSION wsrep_sync_wait = ?
