-- The lease, locked for the claim's transaction: who holds it, its fence, and whether it is
-- still live on this server's clock (never claimed, released or expired: not live). On
-- Galera the session reads with wsrep_sync_wait = 1 first, so the row is the cluster's
-- latest; certification then lets only one of two concurrent claims commit.
SELECT holder, node, fence, COALESCE(expires_at > NOW(6), 0) AS live
FROM seqfix_leases
WHERE name = ?
FOR UPDATE
