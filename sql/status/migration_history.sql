-- Every recorded migration of the messages table and whether it finished (see seqfix migrate).
SELECT CAST(version AS CHAR), CAST(success AS SIGNED) FROM seqfix_schema_history WHERE table_name = ? ORDER BY version
