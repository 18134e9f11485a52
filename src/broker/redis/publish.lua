#!lua
-- Stores one notification in one channel's history and publishes it, as one atomic step.
-- Atomic because the offset a notification gets, its place in the history stream and the order in
-- which subscribers receive it must agree: with publishers on many replicas, every subscriber then
-- sees offsets 1, 2, 3, ... in order. Every key is in the channel's hash slot ({channel} tag).
--
-- KEYS[1]  meta hash {epoch, offset}
-- KEYS[2]  history stream; entry id "<offset>-0", field d = notification data JSON
-- KEYS[3]  dedupe marker of this notification id in this channel ("<offset>:<epoch>")
-- ARGV[1]  epoch to use if the channel has no history (a new life)
-- ARGV[2]  history size (entries kept)
-- ARGV[3]  history TTL in seconds (from the last notification)
-- ARGV[4]  pub/sub channel of this channel
-- ARGV[5]  data JSON up to the offset: {"id":…,"channel":…,"offset":
-- ARGV[6]  data JSON after the epoch: ,"type":…,"payload":…,"createdAt":…}
-- ARGV[7]  the publishing replica's clock (ms), for the delivery-lag metric
-- ARGV[8]  dedupe TTL in seconds; 0 = no dedupe. With it, a notification id already stored in this
--          channel is not stored again (a retry after a partial failure) and its delivery is returned.
-- ARGV[9]  PUBLISH, or SPUBLISH on a Redis Cluster (sharded pub/sub: the channel is in KEYS' slot)
-- Returns {offset, epoch}. Publishes "<offset>:<epoch>:<ARGV[7]>:<data JSON>".
-- The #!lua line makes Redis enforce that every key and shard channel is in one slot.
local dedupe = tonumber(ARGV[8])
if dedupe > 0 then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local separator = string.find(seen, ':', 1, true)
    return {tonumber(string.sub(seen, 1, separator - 1)), string.sub(seen, separator + 1)}
  end
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  -- A stream that outlived its meta belongs to the previous life.
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local data = ARGV[5] .. offset .. ',"epoch":"' .. epoch .. '"' .. ARGV[6]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'd', data)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call(ARGV[9], ARGV[4], offset .. ':' .. epoch .. ':' .. ARGV[7] .. ':' .. data)
if dedupe > 0 then
  redis.call('SET', KEYS[3], offset .. ':' .. epoch, 'EX', dedupe)
end
return {offset, epoch}
