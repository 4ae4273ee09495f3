-- Inside the batch's transaction: lock the contacts about to change (primary-key lookups,
-- so only these rows are locked) and read their current state, committed by anyone.
SELECT id, COALESCE(current_step, 0),
       status = 'active' AND (next_trigger_time IS NULL OR next_trigger_time <= NOW())
FROM {contacts}
WHERE id IN ({ids})
FOR UPDATE
