-- The migration history: one row per (table, migration). Created on first use.
-- A row is written with success = 0 and finished_at NULL before the DDL runs (MySQL and
-- MariaDB commit DDL implicitly, so the bookkeeping cannot share its transaction) and
-- finished after it: a row left unfinished means the process died during the DDL.
CREATE TABLE IF NOT EXISTS seqfix_schema_history (
  table_name VARCHAR(64) NOT NULL,
  version INT UNSIGNED NOT NULL,
  name VARCHAR(128) NOT NULL,
  checksum CHAR(16) NOT NULL,
  started_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  finished_at TIMESTAMP(3) NULL DEFAULT NULL,
  success TINYINT NOT NULL DEFAULT 0,
  installed_by VARCHAR(288) NOT NULL,
  host VARCHAR(255) NOT NULL,
  seqfix_version VARCHAR(32) NOT NULL,
  execution_ms BIGINT UNSIGNED NULL DEFAULT NULL,
  error TEXT NULL,
  PRIMARY KEY (table_name, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
