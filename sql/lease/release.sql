-- Releases the lease at the end of a run: it expires now; the row and its fence stay.
UPDATE seqfix_leases
SET expires_at = NOW(6)
WHERE name = ? AND holder = ? AND fence = ? AND expires_at > NOW(6)
