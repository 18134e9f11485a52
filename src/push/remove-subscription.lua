-- Removes one subscription from a user's three structures together (a half-removed one would be
-- listed, or pushed, or replaced twice).
--
-- KEYS[1]  herald:push:subs:{user:<id>}, KEYS[2] herald:push:recent:{user:<id>}, KEYS[3] herald:push:pushed:{user:<id>}
-- ARGV[1]  subscription id
-- Returns 1 when it was there, 0 otherwise.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
