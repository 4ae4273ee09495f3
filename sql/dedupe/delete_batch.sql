-- Last statement of a batch: delete the victims, by primary key, but only those whose copy
-- this run put in the archive and this transaction sees there (joined by run id and id).
-- The caller requires the count deleted to equal the count archived, else it rolls back:
-- so a row is always either live or archived, never both or neither, even if the archive
-- copy was lost (on Galera, a transaction aborted by another node's write can lose its
-- earlier statements while later ones return OK: then this deletes nothing).
DELETE s FROM {table} AS s
JOIN {archive} AS a ON a.seqfix_run_id = ? AND a.id = s.id
WHERE s.id IN ({ids})
