-- Reverts migration 1. Dropping a secondary index is a metadata-only change in InnoDB.
ALTER TABLE {table} DROP INDEX unique_sequence_message, ALGORITHM=INPLACE, LOCK=NONE
