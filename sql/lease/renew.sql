-- Renews the lease inside each batch's transaction: changes exactly one row while this run
-- still holds it (same holder, same fence, not expired), none once it expired or another
-- run claimed it, and then the batch is rolled back. `renewals` makes every renewal change
-- the row (an update that sets the same values counts 0 affected rows).
UPDATE seqfix_leases
SET expires_at = NOW(6) + INTERVAL ? SECOND, renewals = renewals + 1
WHERE name = ? AND holder = ? AND fence = ? AND expires_at > NOW(6)
