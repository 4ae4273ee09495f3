-- Privilege probe: updates nothing, but the server checks UPDATE on {table}.
UPDATE {table} SET current_step = current_step, next_trigger_time = next_trigger_time, status = status, completed_at = completed_at WHERE 1 = 0
