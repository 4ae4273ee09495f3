-- scan.sql's hash slot: a 4-byte hash of the weights of the phone's digits (the digits slot) and of
-- the step, trailing space weights trimmed (the two ? are the space weights of the phone's
-- and the step's collations; empty under NO PAD), so that rows equal under the collation
-- hash alike.
CRC32(CONCAT(TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING({digits})),
  0x00, TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING(sequence_stepid))))
