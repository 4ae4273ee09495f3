-- Triggers on {table} that fire on the given event (DELETE for dedupe, UPDATE for
-- --empty-steps-to-null): their effects on other tables are not archived and restore cannot
-- undo them. The server lists a trigger only to a user with the TRIGGER privilege on the
-- table (docs/runbook.md says so).
SELECT TRIGGER_NAME, ACTION_TIMING
FROM information_schema.TRIGGERS
WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? AND EVENT_MANIPULATION = ?
ORDER BY TRIGGER_NAME
