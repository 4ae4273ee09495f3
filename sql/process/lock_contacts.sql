-- After a guarded update found a contact changed since the batch's read: in a new
-- transaction, lock the batch's contacts (primary-key lookups, so only these rows are locked)
-- and read their current state, committed by anyone, to keep those still as read.
SELECT id, COALESCE(current_step, 0),
       status = 'active' AND (next_trigger_time IS NULL OR next_trigger_time <= NOW())
FROM {contacts}
WHERE id IN ({ids})
FOR UPDATE
