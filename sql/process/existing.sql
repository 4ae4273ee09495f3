-- Messages that may already hold a key of the batch (a superset: every step x every phone;
-- the caller matches whole keys). Used for --dry-run and when the unique index is missing.
SELECT sequence_stepid, recipient_phone, device_id, status
FROM {table}
WHERE sequence_stepid IN ({step_marks}) AND recipient_phone IN ({phone_marks})
