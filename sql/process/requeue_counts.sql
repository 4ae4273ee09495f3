-- How often each of these messages was re-queued before (one `requeued` log row each time).
SELECT message_id, COUNT(*) FROM {logs} WHERE status = 'requeued' AND message_id IN ({ids}) GROUP BY message_id
