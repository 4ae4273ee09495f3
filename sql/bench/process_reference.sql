-- Benchmark reference for `seqfix process`: the same pass written as plain set-based SQL
-- (no lock, no ledger, no batches, no re-checks), to measure seqfix against. The first
-- lead per (phone, user) and the step per (sequence, day) are computed once (neither
-- table has an index for those lookups), the plan once, then one INSERT ... SELECT for
-- the messages, one for the log rows, one UPDATE ... JOIN to advance and one to complete.
-- Run with the mysql client on a copy of the data: it changes it.
SET @now = NOW();
CREATE TEMPORARY TABLE ref_first_lead (PRIMARY KEY (phone, user_id))
SELECT phone, user_id, MIN(id) AS lead_id FROM leads GROUP BY phone, user_id;
CREATE TEMPORARY TABLE ref_steps (PRIMARY KEY (sequence_id, day_number))
SELECT sequence_id, day_number, MIN(id) AS step_id FROM sequence_steps GROUP BY sequence_id, day_number;
CREATE TEMPORARY TABLE ref_plan (PRIMARY KEY (contact_id))
SELECT sc.id AS contact_id, sc.sequence_id, sc.contact_phone, sc.contact_name, sc.current_step + 1 AS next_day,
       s.user_id, st.id AS step_id, st.message_type, st.content, st.media_url, l.device_id
FROM sequence_contacts sc
JOIN sequences s ON s.id = sc.sequence_id
JOIN ref_steps rs ON rs.sequence_id = s.id AND rs.day_number = sc.current_step + 1
JOIN sequence_steps st ON st.id = rs.step_id
JOIN ref_first_lead fl ON fl.phone = sc.contact_phone AND fl.user_id = s.user_id
JOIN leads l ON l.id = fl.lead_id
JOIN user_devices ud ON ud.id = l.device_id AND ud.user_id = s.user_id AND ud.status IN ('connected', 'online')
WHERE sc.status = 'active' AND s.is_active = 1 AND (sc.next_trigger_time IS NULL OR sc.next_trigger_time <= @now)
  AND sc.current_step + 1 <= s.total_days;
INSERT INTO broadcast_messages
  (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, recipient_name,
   message_type, content, media_url, status, scheduled_at, created_at)
SELECT UUID(), user_id, device_id, sequence_id, step_id, contact_phone, contact_name,
       message_type, content, media_url, 'pending', @now, @now
FROM ref_plan
ON DUPLICATE KEY UPDATE id = broadcast_messages.id;
INSERT INTO sequence_logs (id, sequence_id, contact_id, step_id, day, status)
SELECT UUID(), sequence_id, contact_id, step_id, next_day, 'queued' FROM ref_plan;
UPDATE sequence_contacts sc JOIN ref_plan p ON p.contact_id = sc.id
SET sc.current_step = p.next_day, sc.next_trigger_time = @now + INTERVAL 1 DAY;
UPDATE sequence_contacts sc JOIN sequences s ON s.id = sc.sequence_id
SET sc.status = 'completed', sc.completed_at = @now
WHERE sc.status = 'active' AND s.is_active = 1 AND (sc.next_trigger_time IS NULL OR sc.next_trigger_time <= @now)
  AND sc.current_step + 1 > s.total_days;
