-- Extends the lease outside a batch (after a long plan, a confirmation or a wait for
-- replicas): changes exactly one row while this run still holds it, even if it expired in
-- the meantime, and none once another run has claimed it (the fence changed). Safe after an
-- expiry because a claim by another run always moves the fence; a batch's own renewal
-- (renew.sql) still refuses an expired lease.
UPDATE seqfix_leases
SET expires_at = NOW(6) + INTERVAL ? SECOND, renewals = renewals + 1
WHERE name = ? AND holder = ? AND fence = ?
