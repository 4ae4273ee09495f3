-- Forgets a migration after it was reverted with --down.
DELETE FROM seqfix_schema_history WHERE table_name = ? AND version = ?
