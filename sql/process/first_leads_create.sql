-- Empty table for the first lead per (phone, user_id), with the column types and collations
-- of leads (CREATE ... SELECT copies them), so that later joins never mix collations.
CREATE TEMPORARY TABLE seqfix_process_leads (PRIMARY KEY (phone, user_id))
SELECT phone, user_id, id AS lead_id FROM {leads} WHERE 1 = 0
