-- MySQL Group Replication: the most bytes one transaction may replicate (0: no limit).
-- Unknown (error 1193) without the plugin.
SELECT @@group_replication_transaction_size_limit
