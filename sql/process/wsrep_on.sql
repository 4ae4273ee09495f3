-- Galera: 1 when this node replicates through wsrep. Error 1193 (unknown variable) on
-- servers built without Galera support means "not Galera".
SELECT @@wsrep_on
