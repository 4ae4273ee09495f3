-- Galera: this session's DDL runs as Total Order Isolation (replicated and applied at the same
-- point on every node), whatever the server's default. seqfix never builds an index with RSU:
-- a node that has the index would abort on a duplicate written meanwhile on a node without it
-- (the write applies there, fails here) and be expelled from the cluster.
SET SESSION wsrep_OSU_method = 'TOI'
