-- One chunk of the scan's walk over {table} (src/scan/walk.rs): the next rows in primary-key
-- order after the last id of the previous chunk (the after slot: `WHERE id > ?`, empty for
-- the first chunk), at most ? of them. Each chunk is one short statement that reads a range
-- of the clustered index and sorts nothing, so no read view is held for longer than a chunk
-- (InnoDB's purge keeps up) and no temporary table is made, however large the table. The
-- walk is the scan's only read of the table.
--
-- Per row:
-- kind: 0 a NULL step (no sequence); 1 an empty step, compared under the column's
--   collation as the unique index compares it (the application's "no sequence" too; audit
--   reports those apart, empty_steps.sql); 2 a sequence message with a NULL phone or
--   device, which a unique index never holds equal to another row; 3 a sequence message
--   that may have copies.
-- phone_weight and key_hash: what the client fingerprints the partition key (near weight,
--   step, device) from. phone_weight is the phone's collation weight, from which the client
--   derives the near weight (src/scan/weights.rs, `Near::weight`) and hashes it; key_hash is
--   CRC32 of the step's and the device's collation weights with trailing space weights
--   trimmed (the step_trailing and device_trailing slots: the space weights of their
--   collations as hex literals, empty under NO PAD; see collation.sql). Rows the unique
--   index holds equal have equal trimmed weights, so equal fingerprints; near-duplicates
--   share the near weight, so they do too. Equal fingerprints only make rows candidates:
--   the client then has the server weigh the candidates' key values again (weigh.sql) and
--   groups them by those weights, so a collision never merges two groups.
-- the key values and the details (the details slot: details.sql, or details_keys_only.sql
--   when the unique index exists): what the report and the survivor rule need of a row.
SELECT id,
       CASE WHEN sequence_stepid IS NULL THEN 0
            WHEN sequence_stepid = '' THEN 1
            WHEN recipient_phone IS NULL OR device_id IS NULL THEN 2
            ELSE 3 END AS kind,
       WEIGHT_STRING(recipient_phone) AS phone_weight,
       CRC32(CONCAT(TRIM(TRAILING {step_trailing} FROM WEIGHT_STRING(sequence_stepid)), 0x00,
                    TRIM(TRAILING {device_trailing} FROM WEIGHT_STRING(device_id)))) AS key_hash,
       sequence_stepid, device_id, recipient_phone, {details}
FROM {table}
{after}
ORDER BY id
LIMIT ?
