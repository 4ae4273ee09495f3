-- Whether the history table exists yet (it is created only when something is recorded).
SELECT COUNT(*) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'seqfix_schema_history'
