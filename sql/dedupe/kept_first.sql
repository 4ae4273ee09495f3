-- lock_and_archive.sql's test that the survivor k comes before the victim s by age, as the
-- scan ordered them (src/survivor.rs): the older created_at (the k_created and s_created
-- slots are created_at in microseconds, sql/audit/created_us_*.sql), a NULL counting as
-- newest, then the smaller id compared as bytes. Alone under --keep oldest.
(({k_created} IS NOT NULL AND {s_created} IS NULL)
 OR {k_created} < {s_created}
 OR ({k_created} <=> {s_created} AND CAST(k.id AS BINARY) < CAST(s.id AS BINARY)))
