-- Adds a Web Push subscription to a user's set, replacing the one pushed least recently when the
-- user already holds the maximum, as one atomic step: concurrent registrations on several replicas
-- can neither overshoot the cap nor replace two subscriptions for one.
--
-- KEYS[1]  herald:push:subs:{user:<id>}    hash: subscription id → JSON {endpoint, keys, expirationTime, createdAt}
-- KEYS[2]  herald:push:recent:{user:<id>}  sorted set: subscription id → last push (ms), or its registration
-- KEYS[3]  herald:push:pushed:{user:<id>}  hash: subscription id → last push accepted (ms)
-- ARGV[1]  subscription id, ARGV[2] its JSON (createdAt = now), ARGV[3] now (ms), ARGV[4] max per user
-- Returns {1, replaced id or ''} when added, {0, ''} when the user already had it (its keys are
-- updated, its id and createdAt kept).
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  local renewed = cjson.decode(ARGV[2])
  renewed.createdAt = cjson.decode(existing).createdAt
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(renewed))
  return {0, ''}
end
local replaced = ''
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  replaced = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  redis.call('HDEL', KEYS[1], replaced)
  redis.call('HDEL', KEYS[3], replaced)
  redis.call('ZREM', KEYS[2], replaced)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, replaced}
