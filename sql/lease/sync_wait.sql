-- The session's Galera causality setting (error 1193 where the variable does not exist).
SELECT @@session.wsrep_sync_wait
