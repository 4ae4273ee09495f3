-- The archive of rows removed by dedupe: every column of the source table under the same
-- name and type (nullable but for the id, no defaults: values are always copied), then which run
-- removed the row, the id of the row that was kept, and when. Created without the
-- source's unique indexes; keyed by (run, id) because a row restored and removed again
-- is archived once per run. No secondary index: every one would slow each batch's insert.
CREATE TABLE {archive} (
  {definitions},
  seqfix_run_id CHAR(36) NOT NULL,
  seqfix_kept_id {kept_type} NOT NULL,
  seqfix_archived_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (seqfix_run_id, id)
) ENGINE=InnoDB DEFAULT CHARSET={charset} COLLATE={collation}
