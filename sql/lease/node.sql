-- This server as a lease names its holder's node: host name and port.
SELECT CONCAT(@@hostname, ':', @@port)
