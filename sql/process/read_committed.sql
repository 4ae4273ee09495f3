-- READ COMMITTED for this session: the CREATE ... SELECT snapshots then read the source
-- tables without shared next-key locks (which under REPEATABLE READ would block the
-- application's writes to leads and contacts during the scan), and the batch transactions
-- take no gap locks. Only used when the binary log is not statement-based, because InnoDB
-- refuses statement-logged writes under READ COMMITTED.
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED
