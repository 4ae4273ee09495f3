-- The distinct (phone, user_id) pairs of the due contacts, keyed. IGNORE drops the repeats
-- (many contacts share a phone); the rows are copies of columns of the same types, so there
-- is nothing else for it to hide. Cheaper than SELECT DISTINCT, which sorts.
CREATE TEMPORARY TABLE seqfix_process_keys (PRIMARY KEY (contact_phone, user_id))
IGNORE SELECT contact_phone, user_id FROM seqfix_process_due
