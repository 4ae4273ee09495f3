-- The collation weights of a batch of key values the scan's walk read (src/scan/confirm.rs),
-- for its candidate rows: those whose fingerprint the walk (chunk.sql) saw more than once.
-- The weights slot is `WEIGHT_STRING(<value>)` once per value, each value bound as its
-- UTF-8 bytes and converted back into its column's character set and collation (or taken as
-- bytes for a binary column), so the table is not read a second time. What only the server
-- can supply: the weights under each column's own collation, so that the client groups rows
-- by exactly the equality the unique index enforces (letter case, accents, ignorable
-- characters, fullwidth forms; trailing spaces are handled with the weight of a space, see
-- collation.sql), and nothing else.
SELECT {weights}
