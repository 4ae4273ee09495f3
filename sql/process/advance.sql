-- Advance contacts that were at the given step (guarded: a contact another run moved is not touched).
UPDATE {contacts}
SET current_step = ?, next_trigger_time = NOW() + INTERVAL ? SECOND
WHERE id IN ({ids}) AND COALESCE(current_step, 0) = ? AND status = 'active'
