-- A batch waits at most 5 s for a row the application holds (the default, 50 s, would keep
-- the batch's own contact locks that long); a batch that times out is rolled back and read
-- again, at most three times.
SET SESSION innodb_lock_wait_timeout = 5
