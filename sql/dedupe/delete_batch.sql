-- Last statement of a batch: delete the archived victims by primary key. Commits together
-- with the archive copy, so a row is always either live or archived, never both or neither.
DELETE FROM {table} WHERE id IN ({ids})
