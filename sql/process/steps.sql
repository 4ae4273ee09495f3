-- The step of each (sequence, day): sequence_steps has no index on (sequence_id,
-- day_number), so joining it per batch would compare every step with every contact of the
-- batch (a block nested loop: 100,000 contacts x 1,000 steps is a minute). One read of the
-- whole (small) table per run, keyed, makes the batch join a primary-key lookup. The
-- smallest id wins when a sequence has two steps for one day.
CREATE TEMPORARY TABLE seqfix_process_steps (PRIMARY KEY (sequence_id, day_number))
SELECT sequence_id, day_number, MIN(id) AS step_id
FROM {steps}
GROUP BY sequence_id, day_number
