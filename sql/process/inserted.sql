-- Which of the ids we just tried to insert exist: those rows are ours (queued); the others
-- met an existing key (already_queued). Our own uncommitted rows are visible to us.
SELECT id FROM {table} WHERE id IN ({ids})
