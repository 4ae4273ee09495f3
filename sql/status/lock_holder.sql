-- Who a connection is, when this user may see it (others' threads need PROCESS).
SELECT USER, HOST, TIME FROM {processlist} WHERE ID = ?
