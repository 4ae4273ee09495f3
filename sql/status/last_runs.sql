-- The latest run of each command in the run ledger, with its age on the server's clock
-- (so the client's clock and time zone do not matter).
SELECT run_id, command, host, pid, db_user, status,
       CAST(UNIX_TIMESTAMP(started_at) AS SIGNED) AS started,
       CAST(UNIX_TIMESTAMP(finished_at) AS SIGNED) AS finished,
       TIMESTAMPDIFF(SECOND, started_at, NOW(3)) AS age_seconds
FROM (
  SELECT r.*, ROW_NUMBER() OVER (PARTITION BY command ORDER BY started_at DESC, run_id DESC) AS rn
  FROM seqfix_runs r
) latest
WHERE rn = 1
ORDER BY command
