-- One batch: every contact of the snapshot range (cursor, last], still due now, with its
-- sequence, the step of day current_step + 1, its first lead and that lead's device, in one
-- statement. Every join is a primary-key lookup (the run's keyed step and lead tables stand
-- in for the indexes the production tables lack).
SELECT sc.id, sc.sequence_id, sc.contact_phone, sc.contact_name, COALESCE(sc.current_step, 0),
       s.user_id, s.total_days,
       st.id, st.message_type, st.content, st.media_url,
       l.id, l.device_id,
       ud.id, ud.user_id, ud.status
FROM seqfix_process_due d
JOIN {contacts} sc ON sc.id = d.id AND sc.contact_phone = d.contact_phone
JOIN {sequences} s ON s.id = sc.sequence_id
LEFT JOIN seqfix_process_steps ks ON ks.sequence_id = sc.sequence_id AND ks.day_number = COALESCE(sc.current_step, 0) + 1
LEFT JOIN {steps} st ON st.id = ks.step_id
LEFT JOIN seqfix_process_leads fl ON fl.phone = sc.contact_phone AND fl.user_id = s.user_id
LEFT JOIN {leads} l ON l.id = fl.lead_id
LEFT JOIN {devices} ud ON ud.id = l.device_id
WHERE d.id > ? AND d.id <= ?
  AND sc.status = 'active'
  AND s.is_active = 1
  AND s.status = 'active'
  AND (sc.next_trigger_time IS NULL OR sc.next_trigger_time <= NOW())
ORDER BY d.id
