-- Privilege probe, run inside a transaction that is rolled back: deletes nothing, but the
-- server checks the DELETE privilege on the table before it looks at any row, so a user
-- without it is refused here, before anything was created or changed.
DELETE FROM {table} WHERE FALSE
