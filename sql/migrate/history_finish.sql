-- Marks a started migration as finished: succeeded (success = 1) or failed (with the error).
UPDATE seqfix_schema_history
SET finished_at = CURRENT_TIMESTAMP(3), success = ?, execution_ms = ?, error = ?
WHERE table_name = ? AND version = ?
