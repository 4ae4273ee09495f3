-- Every session works in UTC: NOW() + INTERVAL and the comparisons of TIMESTAMP columns with
-- NOW() are then exact across a daylight-saving change of the server's zone (in a local
-- zone the autumn hour repeats, and an interval computed in local time is off by an hour).
SET time_zone = '+00:00'
