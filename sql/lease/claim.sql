-- Claims the lease read by lock.sql: a new holder, the next fence, an expiry `?` seconds
-- from now. Guarded by the fence that was read, so it changes exactly one row or none.
UPDATE seqfix_leases
SET holder = ?, node = ?, client_host = ?, pid = ?, fence = fence + 1, renewals = 0,
    claimed_at = NOW(6), expires_at = NOW(6) + INTERVAL ? SECOND
WHERE name = ? AND fence = ?
