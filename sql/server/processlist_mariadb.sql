-- Where MariaDB lists the server's connections (ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO).
information_schema.PROCESSLIST
