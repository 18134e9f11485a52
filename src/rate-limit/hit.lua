#!lua
-- Counts one request in a fixed window and blocks the tracker once it passes the limit, as one
-- atomic step, so that every replica draws on the same budget.
--
-- KEYS[1]  herald:rate:{<key>}:hits   KEYS[2]  herald:rate:{<key>}:blocked
-- ARGV[1]  window (ms), ARGV[2] limit, ARGV[3] block duration (ms)
-- Returns {hits, ms until the window ends, blocked (0/1), ms until the block ends}.
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return {tonumber(ARGV[2]) + 1, blocked, 1, blocked}
end
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local remaining = redis.call('PTTL', KEYS[1])
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, remaining, 1, tonumber(ARGV[3])}
end
return {hits, remaining, 0, 0}
