-- created_at of a DATETIME column in whole microseconds since 1970-01-01 00:00:00, as
-- written (a DATETIME has no time zone; src/scan/mod.rs, `created_us`). Negative before 1970,
-- where UNIX_TIMESTAMP would give 0 or NULL; NULL for a zero date.
TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {created_at})
