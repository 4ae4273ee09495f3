-- Galera: the most rows one transaction's write set may hold (0: no limit). A larger one
-- fails with error 1180 at COMMIT.
SELECT @@wsrep_max_ws_rows
