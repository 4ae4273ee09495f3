-- MySQL Group Replication: the variable exists only when the plugin is loaded
-- (otherwise error 1193); 1 means single-primary, 0 multi-primary.
SELECT @@group_replication_single_primary_mode
