-- The near slot of chunk.sql: the collation weight of the phone with the weights of punctuation
-- and spacing characters removed. Rows whose phones differ only in those are
-- near-duplicates, which the unique index will not catch. The phone slot is the phone:
-- the column in chunk.sql (src/scan/weights.rs, `Near::weight`, computes the same on the client).
--
-- It is computed from the phone's weight, not from its characters, so that two phones the
-- unique index holds equal always get equal near weights: an exact group never straddles
-- two near-duplicate partitions, and the fingerprint (chunk.sql) of every row of
-- an exact group is the same. Removing characters first (REPLACE on the text) would not
-- do that: REPLACE compares characters exactly, so '+60123' and '＋60123' (fullwidth plus),
-- which the collation holds equal, lost different characters.
--
-- The first ? says whether the collation weighs in several levels (near_weight.sql): then
-- only the first level is kept (case and accents of a phone hardly matter, and punctuation
-- leaves its mark in the other levels too). The next two are the trailing space weight of
-- the phone's collation (empty under NO PAD, see collation.sql); the others the weights of
-- the characters scan::weights::NEAR_CHARACTERS in that collation (near_weight.sql; empty for a
-- character the column cannot hold, or that weighs the same as an earlier one). The cut and
-- the removal work on bytes, so the result is a fixed function of the weight: equal weights
-- give equal results, which is all the grouping needs.
REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
  IF(?, SUBSTRING_INDEX(TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING({phone})), 0x0000, 1),
      TRIM(TRAILING CAST(? AS BINARY) FROM WEIGHT_STRING({phone}))),
  CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''),
  CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''),
  CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''),
  CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''),
  CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), ''), CAST(? AS BINARY), '')
