-- Records a migration as started (success = 0, finished_at NULL), replacing the row of an
-- earlier failed or unfinished attempt.
REPLACE INTO seqfix_schema_history
  (table_name, version, name, checksum, started_at, finished_at, success, installed_by, host, seqfix_version,
   execution_ms, error)
VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP(3), NULL, 0, CURRENT_USER(), ?, ?, NULL, NULL)
