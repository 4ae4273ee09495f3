-- The columns of a table as the server reports them, in table order. The last column says
-- whether the server computes the column (GENERATED ALWAYS AS ...): its expression, NULL
-- on MariaDB and '' on MySQL for an ordinary column.
SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME,
       CHARACTER_MAXIMUM_LENGTH, COALESCE(GENERATION_EXPRESSION, '') <> '' AS is_generated
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
ORDER BY ORDINAL_POSITION
