-- Members of the replication group this server belongs to (none: the plugin is loaded
-- but the server is not in a group).
SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE'
