-- chunk.sql's details slot for a table that already has the unique index on (sequence_stepid,
-- recipient_phone, device_id): exact copies cannot exist, so no survivor is chosen and the
-- details are not sent. What remains to find are near-duplicates.
NULL AS sequence_id, NULL AS status, NULL AS created_us
