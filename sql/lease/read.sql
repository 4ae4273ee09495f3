-- The lease as status and the reports show it, with the time left on this server's clock
-- (negative: expired or released; NULL: never claimed).
SELECT holder, node, client_host, pid, fence, renewals,
       CAST(UNIX_TIMESTAMP(claimed_at) AS SIGNED) AS claimed,
       TIMESTAMPDIFF(MICROSECOND, NOW(6), expires_at) AS expires_in_us
FROM seqfix_leases
WHERE name = ?
