-- MySQL-based Galera (no @@in_transaction): 1 while this session has an open InnoDB
-- transaction. A batch transaction has locked rows by then, so InnoDB lists it.
SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()
