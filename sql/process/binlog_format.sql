SELECT @@log_bin, @@binlog_format
