-- How many duplicate groups remain (run only when duplicates_exist.sql found some, to report
-- the number; the same equality and NULL rule as the unique index, empty steps apart as in
-- duplicates_exist.sql).
SELECT COUNT(*) FROM (
  SELECT 1 FROM {table}
  WHERE sequence_stepid IS NOT NULL AND sequence_stepid <> '' AND recipient_phone IS NOT NULL AND device_id IS NOT NULL
  GROUP BY sequence_stepid, recipient_phone, device_id
  HAVING COUNT(*) > 1
) AS groups_left
