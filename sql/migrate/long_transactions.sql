-- Transactions open for longer than ? seconds, with who runs them. InnoDB does not say which
-- tables a transaction touched; any of them may hold a metadata lock on the table, and an
-- ALTER queued behind one blocks every new query on that table. Needs the PROCESS privilege.
SELECT t.trx_mysql_thread_id, COALESCE(p.USER, ''), COALESCE(p.HOST, ''), COALESCE(p.DB, ''),
       TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS age_s, COALESCE(p.COMMAND, ''),
       LEFT(COALESCE(p.INFO, ''), 200)
FROM information_schema.INNODB_TRX t
LEFT JOIN {processlist} p ON p.ID = t.trx_mysql_thread_id
WHERE t.trx_mysql_thread_id <> CONNECTION_ID()
  AND t.trx_started <= NOW() - INTERVAL ? SECOND
ORDER BY t.trx_started
