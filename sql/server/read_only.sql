-- Whether the server, or this session, refuses writes (MySQL 8: transaction_read_only).
SELECT @@global.read_only, @@session.transaction_read_only
