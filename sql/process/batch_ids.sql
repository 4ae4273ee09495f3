-- The next batch of the snapshot: the last id of up to --batch-size contacts after the cursor.
SELECT MAX(id), COUNT(*) FROM (SELECT id FROM seqfix_process_due WHERE id > ? ORDER BY id LIMIT ?) b
