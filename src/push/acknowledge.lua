-- Marks a notification delivered for one user, once: the first ack turns the record `delivered`
-- (keeping when it was pushed) and returns 1; later acks, and notifications not published with
-- `push` for this user, return 0.
--
-- KEYS[1]  herald:push:notification:{notification:<id>}
-- ARGV[1]  `user:<id>`, ARGV[2] now (ms)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
local record = cjson.decode(current)
if record.state == 'delivered' then
  return 0
end
local delivered = { state = 'delivered', deliveredAt = tonumber(ARGV[2]) }
if record.pushedAt then
  delivered.pushedAt = record.pushedAt
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(delivered))
return 1
