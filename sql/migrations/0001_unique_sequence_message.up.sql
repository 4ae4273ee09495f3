-- Migration 1: the unique index that makes queuing a sequence step atomic. The application's
-- check-then-insert races; with this index the second INSERT of the same
-- (sequence_stepid, recipient_phone, device_id) fails with ER_DUP_ENTRY instead.
-- ALGORITHM=INPLACE, LOCK=NONE: build online, reads and writes continue during the build
-- (the server refuses the statement rather than silently copying or locking the table).
ALTER TABLE {table}
  ADD UNIQUE INDEX unique_sequence_message (sequence_stepid, recipient_phone, device_id),
  ALGORITHM=INPLACE, LOCK=NONE
