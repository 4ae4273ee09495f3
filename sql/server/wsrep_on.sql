-- Galera: wsrep_on is ON on a cluster node. Servers built without Galera support
-- (MySQL) answer "unknown system variable" (error 1193), which means "not Galera".
SELECT @@wsrep_on
