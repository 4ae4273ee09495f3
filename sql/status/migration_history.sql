-- Every recorded migration and whether it finished (see seqfix migrate).
SELECT CAST(version AS CHAR), CAST(success AS SIGNED) FROM seqfix_schema_history ORDER BY version
