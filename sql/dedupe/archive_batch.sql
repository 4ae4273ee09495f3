-- Second statement of a batch redone after lock_batch.sql: copy the victims it kept (every
-- column the server reports for the source table) into the archive, with the run id and the
-- id of the survivor each one duplicated. The rows are locked by lock_batch.sql, so they are
-- copied as they will be deleted.
--
-- {pairs} is a derived table of (victim_id, kept_id) rows, `SELECT ? AS victim_id, ? AS
-- kept_id UNION ALL SELECT ?, ? ...`, joined to the source by primary key. (A
-- `CASE id WHEN ? THEN ? ...` mapping costs a collation comparison per victim for every
-- row, about 20 ms for a batch of 1000; the join is a lookup per row.)
INSERT INTO {archive} ({columns}, seqfix_run_id, seqfix_kept_id, seqfix_archived_at)
SELECT {source_columns}, ?, k.kept_id, NOW(6)
FROM ({pairs}) AS k
JOIN {table} AS s ON s.id = k.victim_id
