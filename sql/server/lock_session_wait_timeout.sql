-- How long the server keeps a silent session that holds one node's share of a cluster-wide
-- advisory lock (seconds). Such a session stays idle while the work runs on another
-- connection (an index build can take hours); the lock is freed when it closes.
SET SESSION wait_timeout = ?
