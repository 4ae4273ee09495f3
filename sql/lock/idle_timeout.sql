-- The connection that holds an advisory lock is closed by the server after this many seconds
-- of silence, which frees the lock: a seqfix host that vanishes (power, network) then blocks
-- the other hosts for minutes, not for the server's default wait_timeout of 8 hours. seqfix
-- itself never leaves that connection idle so long (it pings it while waiting on replicas).
SET SESSION wait_timeout = ?
