-- Whether a lease's row exists yet (its fence, without locking it).
SELECT fence FROM seqfix_leases WHERE name = ?
