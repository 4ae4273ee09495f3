-- Session settings for server-side duplicate checks (migrate's preflight groups the
-- sequence messages in an internal temporary table). With the server's default
-- tmp_table_size (16M) that table spills to disk and the check takes twice as long.
-- Raising the limits for this session only keeps it in memory (bounded by the size of
-- the key columns, not the rows).
SET SESSION tmp_table_size = 1073741824, max_heap_table_size = 1073741824
