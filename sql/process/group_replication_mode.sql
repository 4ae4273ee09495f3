-- MySQL Group Replication: 0 means multi-primary. Error 1193 (unknown variable) means the
-- plugin is not installed.
SELECT @@group_replication_single_primary_mode
