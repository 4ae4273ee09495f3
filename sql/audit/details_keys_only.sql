-- candidates.sql's details slot for a table that already has the unique index on (sequence_stepid,
-- recipient_phone, device_id): exact copies cannot exist, so no survivor is chosen and
-- only the key columns are read, which the server can take from that index alone (a
-- covering index scan) instead of the whole rows. What remains to find are near-duplicates.
NULL AS sequence_id, NULL AS status, NULL AS created_us
