-- Queue the batch's messages. With the unique index on (sequence_stepid, recipient_phone,
-- device_id) the insert is atomic per key: a key that exists (queued by an earlier run that
-- died before advancing the contact, or by anyone else) makes its row a no-op update, not an
-- error, and not a silent IGNORE of other errors; the no-op update changes nothing, so the
-- affected-row count is the number of new rows. Columns by name: others take defaults.
INSERT INTO {table}
  (id, user_id, device_id, sequence_id, sequence_stepid, recipient_phone, recipient_name,
   message_type, content, media_url, status, scheduled_at, created_at)
VALUES {rows}
ON DUPLICATE KEY UPDATE id = id
