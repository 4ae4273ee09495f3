-- Advance contacts that were at the given step and are still active and due. The guard is
-- what makes the batch safe without reading the contacts again: a contact another writer
-- moved since the batch's read does not match, and the caller, seeing fewer rows changed than
-- it asked for, rolls back and redoes the batch after locking the contacts. Every row that
-- matches is changed (current_step moves), so the affected-row count is the match count.
UPDATE {contacts}
SET current_step = ?, next_trigger_time = NOW() + INTERVAL ? SECOND
WHERE id IN ({ids}) AND COALESCE(current_step, 0) = ? AND status = 'active'
  AND (next_trigger_time IS NULL OR next_trigger_time <= NOW())
