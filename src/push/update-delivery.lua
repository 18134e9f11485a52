-- Replaces one user's delivery record of a notification unless it is `delivered` (an ack wins over a
-- push settled at the same moment) or the notification's records expired.
--
-- KEYS[1]  herald:push:notification:{notification:<id>}
-- ARGV[1]  `user:<id>`, ARGV[2] the new record's JSON
-- Returns 1 when replaced.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or cjson.decode(current).state == 'delivered' then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
