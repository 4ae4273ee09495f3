-- Cluster-wide leases: one row per name (`process`: one `seqfix process` pass at a time on
-- every server and every node of a cluster). A row is kept after release, so its fence only
-- ever grows: every claim adds one, and every batch of the holder renews the lease with an
-- update that names its fence, which matches no row once another run has claimed it.
-- Times are the server's clock (NOW(6)), never a client's. Created on first use.
CREATE TABLE IF NOT EXISTS seqfix_leases (
  name VARCHAR(64) NOT NULL,
  holder CHAR(36) NOT NULL DEFAULT '',
  node VARCHAR(255) NOT NULL DEFAULT '',
  client_host VARCHAR(255) NOT NULL DEFAULT '',
  pid INT UNSIGNED NOT NULL DEFAULT 0,
  fence BIGINT UNSIGNED NOT NULL DEFAULT 0,
  renewals BIGINT UNSIGNED NOT NULL DEFAULT 0,
  claimed_at TIMESTAMP(6) NULL DEFAULT NULL,
  expires_at TIMESTAMP(6) NULL DEFAULT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
