-- scan.sql's hash slot: a 4-byte hash of the phone's near weight (the near slot,
-- near_phone.sql) and of the step's weight, trailing space weights trimmed (the ? is the
-- space weight of the step's collation; empty under NO PAD), so that rows equal under the
-- collation hash alike, and so do near-duplicates.
CRC32(CONCAT({near}, 0x00, TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(sequence_stepid))))
