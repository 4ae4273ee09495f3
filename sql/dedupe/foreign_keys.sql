-- Foreign keys in any table (this one included) that reference {table}'s columns, with what
-- the server does to the referencing rows when a referenced row is deleted or updated.
-- A dedupe that deletes a referenced row would make the server delete (CASCADE) or change
-- (SET NULL, SET DEFAULT) rows of the child table, which seqfix does not archive, or fail
-- (RESTRICT, NO ACTION). Only constraints the user may see are listed: the server shows a
-- constraint of a table on which the user holds some privilege.
SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME,
       GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') AS referenced,
       MIN(r.DELETE_RULE) AS delete_rule, MIN(r.UPDATE_RULE) AS update_rule
FROM information_schema.KEY_COLUMN_USAGE AS k
JOIN information_schema.REFERENTIAL_CONSTRAINTS AS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME = ?
GROUP BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME
ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME
