-- Privilege probe of --empty-steps-to-null, run inside a transaction that is rolled back:
-- changes nothing, but the server checks the UPDATE privilege on the column first.
UPDATE {table} SET sequence_stepid = NULL WHERE FALSE
