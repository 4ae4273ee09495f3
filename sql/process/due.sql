-- The pass's snapshot of due contacts, in id order, at most --limit of them. One
-- statement per run; batches then walk its primary key. Columns are copied with their
-- types and collations from the source tables (CREATE ... SELECT), so later joins on phone
-- and user_id never mix collations. A sequence is processed when it is active in both of
-- the application's senses: is_active = 1 and status = 'active' (a new one is a 'draft'
-- with is_active = 1, and must not start sending).
CREATE TEMPORARY TABLE seqfix_process_due (PRIMARY KEY (id))
SELECT sc.id, sc.contact_phone, s.user_id
FROM {contacts} sc
JOIN {sequences} s ON s.id = sc.sequence_id
WHERE sc.status = 'active'
  AND s.is_active = 1
  AND s.status = 'active'
  AND (sc.next_trigger_time IS NULL OR sc.next_trigger_time <= NOW())
ORDER BY sc.id
LIMIT ?
