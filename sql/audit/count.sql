-- For the report, in one pass (the scan itself only receives the candidate rows, see
-- scan.sql): the number of sequence messages of {table} (step neither NULL nor empty), and
-- the number of rows whose step is the empty string, which the application treats as no
-- sequence (compared under the column's collation, as the unique index compares it).
SELECT CAST(COALESCE(SUM(sequence_stepid <> ''), 0) AS UNSIGNED) AS sequence_messages,
       CAST(COALESCE(SUM(sequence_stepid = ''), 0) AS UNSIGNED) AS empty_steps
FROM {table} WHERE sequence_stepid IS NOT NULL
