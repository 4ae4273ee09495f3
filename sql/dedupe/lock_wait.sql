-- How long one statement of a batch may wait for a row lock (seconds; see session.sql).
SET SESSION innodb_lock_wait_timeout = ?
