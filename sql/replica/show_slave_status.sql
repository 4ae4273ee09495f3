-- Replication state of a replica, on servers older than SHOW REPLICA STATUS.
SHOW SLAVE STATUS
