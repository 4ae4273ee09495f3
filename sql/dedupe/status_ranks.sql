-- lock_and_archive.sql's status_ranks slot under --keep sent-first: each of the survivor k and
-- the victim s joined to its status's rank. {ranks} is a derived table of bound (status,
-- rank) rows, `SELECT ? AS status, ? AS r UNION ALL SELECT ?, ? ...`, the statuses lowercase.
-- The row's status is lowercased and compared as bytes, as the client compares it
-- (src/survivor.rs, `status_rank`): 'SENT' is sent, 'sent ' and 'sént' are not, whatever the
-- column's collation would say. A status not in the list, or NULL, joins nothing, so the
-- victim is not copied here and the batch is decided again in the client, which leaves
-- such a group alone.
JOIN ({ranks}) AS kr ON kr.status = CAST(LOWER(k.status) AS BINARY)
JOIN ({ranks}) AS sr ON sr.status = CAST(LOWER(s.status) AS BINARY)
