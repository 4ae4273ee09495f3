-- A lease's row, never claimed (fence 0, no expiry): written once, when the first claim
-- finds none. Two first claims at once: one insert wins, the other's duplicate key (or, on
-- Galera, its certification failure) only means the row now exists.
INSERT INTO seqfix_leases (name) VALUES (?)
