-- The collation weights of the candidate rows' keys (src/scan/confirm.rs): the rows whose
-- fingerprint the walk (chunk.sql) saw more than once. The server weighs the values the walk
-- read (the rows slot: `SELECT ? AS i, <step> AS s, <device> AS d, <phone> AS p UNION ALL
-- SELECT ?, ...`, each value converted from UTF-8 back into its column's character set and
-- collation, or taken as bytes for a binary column), so the table is not read a second time.
--
-- What only the server can supply: the weights under each column's own collation, so that
-- the client groups rows by exactly the equality the unique index enforces (letter case,
-- accents, ignorable characters, fullwidth forms; trailing spaces are handled with the
-- weight of a space, see collation.sql), and nothing else. The near weight (the near slot,
-- near_phone.sql, on the phone value) is the phone's weight without the weights of
-- punctuation and spacing: rows whose near weights are equal but whose phones differ are
-- near-duplicates, which the unique index will not catch.
SELECT v.i,
       WEIGHT_STRING(v.s) AS step_weight,
       WEIGHT_STRING(v.d) AS device_weight,
       {near} AS near_weight,
       WEIGHT_STRING(v.p) AS phone_weight
FROM ({rows}) AS v
