-- Which rows of a batch of an --empty-steps-to-null run set_back.sql can put back (they exist
-- and their step is still NULL), read with the batch's locks before set_back.sql runs.
SELECT t.id FROM {table} AS t WHERE t.id IN ({ids}) AND t.sequence_stepid IS NULL FOR UPDATE
