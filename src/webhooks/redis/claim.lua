#!lua
-- Claims up to ARGV[3] due events of one webhook bucket, oldest due first, as one atomic step: of
-- replicas polling the bucket at once, exactly one gets each event. A claimed event's score becomes
-- its lease end, so an event whose claimer died is due again when the lease runs out.
--
-- KEYS[1]  herald:{webhooks:<n>}:due       zset: event id -> due time (Unix ms; claimed: lease end)
-- KEYS[2]  herald:{webhooks:<n>}:events    hash: event id -> body (JSON, POSTed as is)
-- KEYS[3]  herald:{webhooks:<n>}:attempts  hash: event id -> attempts claimed so far
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  lease end (Unix ms)
-- ARGV[3]  the most events to claim (>= 1)
-- Returns {events left in the bucket, id, attempt, body, id, attempt, body, ...}.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local result = { 0 }
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    result[#result + 1] = id
    result[#result + 1] = redis.call('HINCRBY', KEYS[3], id, 1)
    result[#result + 1] = body
  else
    -- An index entry without a body (a key lost or evicted): nothing to send.
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
result[1] = redis.call('ZCARD', KEYS[1])
return result
