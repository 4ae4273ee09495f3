-- Contacts that seqfix process should have handled long ago: active, in an active
-- sequence, their next step due before NOW() - stale-after. Contacts with a NULL
-- next_trigger_time are due now but have no "since", so they are not counted.
SELECT COUNT(*), CAST(UNIX_TIMESTAMP(MIN(c.next_trigger_time)) AS SIGNED)
FROM sequence_contacts c
JOIN sequences s ON s.id = c.sequence_id
WHERE c.status = 'active'
  AND s.is_active = 1
  AND s.status = 'active'
  AND c.next_trigger_time < NOW() - INTERVAL ? SECOND
