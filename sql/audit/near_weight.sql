-- For the near weight (src/scan/weights.rs, `Near::weight`): the weight of one punctuation or spacing character (bound as its UTF-8
-- bytes, all three ? the same) in the phone column's collation, NULL when the column's
-- character set cannot hold the character (converting it would give '?', whose weight must
-- not be removed); and whether the collation weighs in several levels (MySQL's accent- or
-- case-sensitive UCA 9.0.0 collations: the weights of every level one after the other,
-- separated by 0x0000; a one-level weight has no 0x0000 after its start). Of a several-level
-- weight, only the first level (up to the first 0x0000, as `Near::weight` cuts it) is kept.
SELECT CASE
  WHEN CONVERT(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {charset}) USING utf8mb4) COLLATE utf8mb4_bin
       = CONVERT(CAST(? AS BINARY) USING utf8mb4) COLLATE utf8mb4_bin
  THEN IF(levels.several,
          SUBSTRING_INDEX(WEIGHT_STRING(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {charset}) COLLATE {collation}), 0x0000, 1),
          WEIGHT_STRING(CONVERT(CONVERT(CAST(? AS BINARY) USING utf8mb4) USING {charset}) COLLATE {collation}))
END AS weight,
levels.several
FROM (SELECT INSTR(WEIGHT_STRING(CONVERT('a' USING {charset}) COLLATE {collation}), 0x0000) > 1 AS several) AS levels
