-- Put a batch of archived rows back into the source table, every source column.
INSERT INTO {table} ({columns})
SELECT {columns} FROM {archive} WHERE seqfix_run_id = ? AND id IN ({ids})
