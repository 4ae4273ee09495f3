-- The weight of one punctuation or spacing character (bound as its UTF-8 bytes, all three ?
-- the same) in the phone column's collation, for near_phone.sql; NULL when the column's
-- character set cannot hold the character (converting it would give '?', whose weight must
-- not be removed).
SELECT CASE
  WHEN CONVERT(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {charset}) USING utf8mb4) COLLATE utf8mb4_bin
       = CONVERT(CAST(? AS BINARY) USING utf8mb4) COLLATE utf8mb4_bin
  THEN WEIGHT_STRING(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {charset}) COLLATE {collation})
END AS weight
