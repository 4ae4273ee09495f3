-- The copies of keys that met an existing message, locked, with their status: the
-- application's own duplicate check ignores `failed` copies and queues the step again,
-- which with the unique index means putting that row back to `pending`. (A superset: every
-- step x every phone; the caller matches whole keys, and without the unique index re-queues
-- a key only when all its copies failed.)
SELECT id, sequence_stepid, recipient_phone, device_id, status
FROM {table}
WHERE sequence_stepid IN ({step_marks}) AND recipient_phone IN ({phone_marks})
FOR UPDATE
