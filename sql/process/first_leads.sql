-- The contact's lead: the smallest leads.id per (phone, user_id), for the phones of the due
-- contacts only. `leads` has no index on phone, so any lookup by phone scans it; this
-- statement scans it once per run (probing a hash/keyed derived table of the due keys) and
-- keeps the answer keyed by (phone, user_id) for the batches.
CREATE TEMPORARY TABLE seqfix_process_leads (PRIMARY KEY (phone, user_id))
SELECT l.phone, l.user_id, MIN(l.id) AS lead_id
FROM {leads} l
JOIN (SELECT DISTINCT contact_phone, user_id FROM seqfix_process_due) k
  ON k.contact_phone = l.phone AND k.user_id = l.user_id
GROUP BY l.phone, l.user_id
