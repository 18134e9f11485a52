#!lua
-- Settles one claimed attempt at a webhook event, only while it is the event's latest attempt: a
-- claimer whose lease ran out, and whose event another replica has claimed since, changes nothing
-- (otherwise it could delete an event the other is still retrying, or postpone it).
--
-- KEYS[1..3]  the bucket's due zset, events hash and attempts hash (see claim.lua)
-- ARGV[1]     event id
-- ARGV[2]     the attempt being settled
-- ARGV[3]     due again at (Unix ms), or '' to remove the event (delivered, or dropped)
-- Returns 1 when settled, 0 when the attempt was not the latest (or the event is gone).
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
end
return 1
