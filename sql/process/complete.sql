-- Mark contacts past their sequence's last day completed (guarded like advance.sql: only
-- those still active, due and at the step that was read; status changes, so every match
-- counts as affected).
UPDATE {contacts}
SET status = 'completed', completed_at = NOW()
WHERE id IN ({ids}) AND COALESCE(current_step, 0) = ? AND status = 'active'
  AND (next_trigger_time IS NULL OR next_trigger_time <= NOW())
