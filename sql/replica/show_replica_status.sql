-- Replication state of a replica (MariaDB 10.5+, MySQL 8.0.22+).
SHOW REPLICA STATUS
