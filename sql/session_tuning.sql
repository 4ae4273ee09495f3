-- Session settings for the scan. The window function materialises the sequence messages
-- in an internal temporary table; with the server's default tmp_table_size (16M) that
-- table spills to disk and the scan takes twice as long. Raising the limits for this
-- session only keeps it in memory (bounded by the size of the key columns, not the rows).
SET SESSION tmp_table_size = 1073741824, max_heap_table_size = 1073741824
