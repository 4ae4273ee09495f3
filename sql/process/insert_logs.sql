INSERT INTO {logs} (id, sequence_id, contact_id, step_id, day, status, message_id)
VALUES {rows}
