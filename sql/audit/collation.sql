-- How a key column's collation treats trailing spaces, asked once per collation before
-- the scan. WEIGHT_STRING keeps trailing spaces, but under a PAD SPACE collation (most of
-- them, e.g. utf8mb4_unicode_ci) the unique index ignores them: 'a' and 'a ' are the same
-- key. The scan therefore strips trailing space weights from each weight when pad_space
-- is 1, and compares weights exactly when the collation is NO PAD.
SELECT WEIGHT_STRING(CONVERT(' ' USING {charset}) COLLATE {collation}) AS space_weight,
       CONVERT('a' USING {charset}) COLLATE {collation} = CONVERT('a ' USING {charset}) AS pad_space
