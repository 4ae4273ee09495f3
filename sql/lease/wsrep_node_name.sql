-- A Galera node's name (error 1193 on a server without Galera support, such as MySQL).
SELECT @@wsrep_node_name
