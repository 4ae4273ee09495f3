-- Second statement of an --empty-steps-to-null batch, in the same transaction as
-- archive.sql: the locked rows whose step is still empty get NULL, the application's other
-- spelling of "no sequence", which the unique index never holds equal.
UPDATE {table} SET sequence_stepid = NULL WHERE id IN ({ids}) AND sequence_stepid = ''
