-- MariaDB: 1 while the session's transaction is open. Asked before a batch's COMMIT on
-- Galera: a transaction aborted by another node's conflicting write can lose the abort, and
-- then later statements and the COMMIT return OK while the writes are gone.
SELECT @@in_transaction
