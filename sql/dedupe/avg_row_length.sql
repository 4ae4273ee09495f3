-- The storage engine's average row length of the table (an estimate), to size batches under
-- a write-set limit in bytes (wsrep_max_ws_size, group_replication_transaction_size_limit).
SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
