-- When the insert changed fewer rows than it was given (some keys existed): which of the ids
-- we just tried to insert exist. Those rows are ours (queued); the others met an existing key
-- (already_queued). Our own uncommitted rows are visible to us.
SELECT id FROM {table} WHERE id IN ({ids})
