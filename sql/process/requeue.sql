-- Re-queue failed copies in place: pending again, the old error cleared, ready for the senders.
UPDATE {table} SET status = 'pending', error_message = NULL WHERE status = 'failed' AND id IN ({ids})
