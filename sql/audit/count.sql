-- How many sequence messages {table} holds (used when the scan returned no rows at all).
SELECT COUNT(*) FROM {table} WHERE sequence_stepid IS NOT NULL
