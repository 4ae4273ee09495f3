-- The run ledger: one row per run of a seqfix subcommand that writes. Created on first use.
CREATE TABLE IF NOT EXISTS seqfix_runs (
  run_id CHAR(36) NOT NULL,
  command VARCHAR(32) NOT NULL,
  host VARCHAR(255) NOT NULL,
  pid INT UNSIGNED NOT NULL,
  db_user VARCHAR(288) NOT NULL,
  seqfix_version VARCHAR(32) NOT NULL,
  started_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  finished_at TIMESTAMP(3) NULL DEFAULT NULL,
  status VARCHAR(16) NOT NULL,
  summary JSON NULL,
  PRIMARY KEY (run_id),
  KEY seqfix_runs_command_started (command, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
