-- The session's sql_mode: whether NO_BACKSLASH_ESCAPES is on decides how a value is written
-- as a string literal in a statement sent as plain text (src/sql.rs, `inline`).
SELECT @@SESSION.sql_mode
