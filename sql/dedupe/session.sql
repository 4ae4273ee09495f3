-- Session settings for the batch transactions of dedupe and restore.
--
-- READ COMMITTED: the batch's locking reads (`... FOR UPDATE`) by primary key then take record
-- locks on the rows they find and no gap locks around ids they do not find (a victim
-- someone else deleted), so the application's inserts of new messages never wait on us.
-- A short innodb_lock_wait_timeout (bound by the caller): if an application transaction
-- holds one of the batch's rows, the batch gives up quickly, rolls back and is retried,
-- instead of queueing other writers behind it for the server default of 50 s.
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED
