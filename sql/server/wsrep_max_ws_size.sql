-- Galera: the most bytes one transaction's write set may hold.
SELECT @@wsrep_max_ws_size
