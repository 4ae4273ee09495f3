-- The number of sequence messages in {table}, for the report: the scan itself only
-- receives the candidate rows (see scan.sql).
SELECT COUNT(*) FROM {table} WHERE sequence_stepid IS NOT NULL
