-- First statement of a batch (the usual case): lock each victim AND its survivor and copy the
-- victim into the archive, in one pass. `FOR UPDATE` makes the read a locking one: it reads
-- the latest committed version of every row it joins and locks it (victims and survivors,
-- by primary key, no other rows), so what is copied is what will be deleted.
--
-- A victim is copied only when its survivor exists and still has the same key: the same
-- test as the ranks of lock_batch.sql (each column compared under its collation; `<=>` so
-- that NULLs compare as the window's ORDER BY groups them; a survivor whose
-- sequence_stepid is NULL matches nothing); and only when the survivor rule, applied to the
-- two rows as they are now, still ranks the survivor first (the kept_first slot:
-- kept_first.sql, under --keep sent-first inside kept_first_by_status.sql, with the
-- status_ranks slot, status_ranks.sql, joining each row to its status's rank; a status the
-- rule does not rank, or NULL, joins nothing). So a victim that was sent after the plan is
-- not copied. When fewer rows are copied than the batch holds, the caller rolls back and
-- redoes the batch with lock_batch.sql, which says which row is missing or changed, and
-- decides each group again in the client (src/dedupe/batch.rs, `decide`).
--
-- {pairs} is the derived table of (victim_id, kept_id) rows described in archive_batch.sql.
INSERT INTO {archive} ({columns}, seqfix_run_id, seqfix_kept_id, seqfix_archived_at)
SELECT {source_columns}, ?, k.id, NOW(6)
FROM ({pairs}) AS p
JOIN {table} AS s ON s.id = p.victim_id
JOIN {table} AS k ON k.id = p.kept_id
  AND k.sequence_stepid = s.sequence_stepid
  AND k.recipient_phone <=> s.recipient_phone
  AND k.device_id <=> s.device_id
{status_ranks}
WHERE {kept_first}
FOR UPDATE
