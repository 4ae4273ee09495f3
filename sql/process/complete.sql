-- Mark contacts past their sequence's last day completed (guarded like advance.sql).
UPDATE {contacts}
SET status = 'completed', completed_at = NOW()
WHERE id IN ({ids}) AND COALESCE(current_step, 0) = ? AND status = 'active'
