-- Rows whose sequence_stepid is the empty string (the application's "no sequence", like NULL)
-- that the unique index would still hold equal: the same (recipient_phone, device_id), each
-- column compared under its collation (`= ''` too, so under PAD SPACE a step of spaces is
-- empty as well); a NULL phone or device never collides. One group per colliding key, the
-- largest first. Read by audit (when the scan found empty steps) and by migrate's
-- preflight, which refuses while any group remains.
SELECT recipient_phone, device_id, COUNT(*) AS copies
FROM {table}
WHERE sequence_stepid = '' AND recipient_phone IS NOT NULL AND device_id IS NOT NULL
GROUP BY recipient_phone, device_id
HAVING COUNT(*) > 1
ORDER BY copies DESC, recipient_phone, device_id
