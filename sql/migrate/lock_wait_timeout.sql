-- How long this session's DDL may wait for the table's metadata lock (seconds). While an
-- ALTER waits for that lock, every new query on the table queues behind it; a short wait
-- bounds how long the application can be blocked. Supported by MariaDB and MySQL alike.
SET SESSION lock_wait_timeout = ?
