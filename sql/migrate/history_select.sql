-- The history of one table, oldest migration first. Times as text in the session's zone.
SELECT version, name, checksum, DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s'),
       DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s'), success, installed_by, host, seqfix_version,
       execution_ms, error
FROM seqfix_schema_history
WHERE table_name = ?
ORDER BY version
