-- Whether the server, or this session, refuses writes (MariaDB before 11.1 knows the
-- session flag as tx_read_only only; later ones have both names).
SELECT @@global.read_only, @@session.tx_read_only
