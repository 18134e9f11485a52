#!lua
-- Admits a connection to a user's presence set unless the user already holds the maximum number of
-- live connections, as one atomic step: concurrent connects on several replicas cannot overshoot
-- MAX_CONNECTIONS_PER_USER.
--
-- KEYS[1]  herald:presence:{user:<id>}  sorted set: connection id → expiry (ms since the epoch)
-- ARGV[1]  now (ms), ARGV[2] expiry of the new entry (ms), ARGV[3] connection id, ARGV[4] max
-- Returns 1 when admitted, 0 when the cap is reached.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
-- The key outlives its longest entry; counting reads the scores, the TTL only collects garbage.
redis.call('PEXPIRE', KEYS[1], 2 * (tonumber(ARGV[2]) - tonumber(ARGV[1])))
return 1
