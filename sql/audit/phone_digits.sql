-- scan.sql's digits slot: the phone without punctuation and spaces. Rows whose phones differ
-- only in these are near-duplicates, which the unique index will not catch.
REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
  recipient_phone, ' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', '')
