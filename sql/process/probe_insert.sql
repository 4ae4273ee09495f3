-- Privilege probe: inserts nothing, but the server checks INSERT on {table} when it opens
-- the statement (every column is given, so strict mode has no default to complain about).
-- Run inside a transaction that is rolled back.
INSERT INTO {table} SELECT * FROM {table} WHERE 1 = 0
