-- MySQL deprecates the binlog_format variable (reading @@binlog_format warns, 1287); the
-- performance_schema copy of the session's variables does not warn.
SELECT @@log_bin,
       (SELECT VARIABLE_VALUE FROM performance_schema.session_variables WHERE VARIABLE_NAME = 'binlog_format')
