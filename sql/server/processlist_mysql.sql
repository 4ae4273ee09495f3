-- Where MySQL 8.0.22+ lists the server's connections, with the same columns. MySQL deprecates
-- information_schema.PROCESSLIST (warning 1287 today, an error in a later release); the
-- performance_schema table shows a user without PROCESS its own threads only, as the old one did.
performance_schema.processlist
