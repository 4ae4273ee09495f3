-- MySQL only: read-only even for users with SUPER / CONNECTION_ADMIN.
SELECT @@global.super_read_only
