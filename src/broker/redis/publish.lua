#!lua
-- Stores notifications in channels' histories and publishes them: N channel writes, each one atomic
-- step. Atomic because the offset a notification gets, its place in the history stream and the order
-- in which subscribers receive it must agree: with publishers on many replicas, every subscriber then
-- sees offsets 1, 2, 3, ... in order. The writes run in the order given (two new writes to one channel
-- get consecutive offsets in that order; a dedupe hit takes none). One call carries up to 256 writes on
-- one Redis (one round of script set-up and one command for them); on a Redis Cluster one write per
-- call, whose keys are all in the channel's hash slot ({channel} tag) — the #!lua line makes Redis
-- enforce that every key and shard channel of a call is in one slot there. A write that Redis refuses
-- (a key of the wrong type, say) comes back as offset 0 with the error, and the writes after it go on:
-- it fails only the publish that asked for it (Redis does not undo the commands it ran before).
--
-- Per write w (from 0), KEYS[3w+1 .. 3w+3]:
--   meta hash {epoch, offset}
--   history stream; entry id "<offset>-0", field d = notification data JSON
--   dedupe marker of this notification id in this channel ("<offset>:<epoch>")
-- Once per call, ARGV[1 .. 5]:
--   epoch to use for a channel with no history (a new life)
--   history size (entries kept)
--   history TTL in seconds (from the last notification)
--   the publishing replica's clock (ms), for the delivery-lag metric
--   PUBLISH, or SPUBLISH on a Redis Cluster (sharded pub/sub: the channel is in the keys' slot)
-- Per write w, ARGV[5+4w+1 .. 5+4w+4]:
--   pub/sub channel of the write's channel
--   data JSON up to the offset: {"id":…,"channel":…,"offset":
--   data JSON after the epoch: ,"type":…,"payload":…,"createdAt":…}
--   dedupe TTL in seconds; 0 = no dedupe. With it, a notification id already stored in this channel
--   is not stored again (a retry after a partial failure) and its delivery is returned.
-- Returns {offset, epoch} per write, flat and in order: {offset1, epoch1, offset2, epoch2, ...};
-- {0, error} for a write that failed.
-- Publishes "<offset>:<epoch>:<clock>:<data JSON>" per write.
local newEpoch, historySize, ttl, clock, publish = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function write(meta, history, stored, pubsub, head, tail, dedupe)
  local seen = dedupe > 0 and redis.call('GET', stored)
  if seen then
    local separator = string.find(seen, ':', 1, true)
    return tonumber(string.sub(seen, 1, separator - 1)), string.sub(seen, separator + 1)
  end
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = newEpoch
    -- A stream that outlived its meta belongs to the previous life.
    redis.call('DEL', history)
    redis.call('HSET', meta, 'epoch', epoch)
  end
  local offset = redis.call('HINCRBY', meta, 'offset', 1)
  local data = head .. offset .. ',"epoch":"' .. epoch .. '"' .. tail
  redis.call('XADD', history, 'MAXLEN', historySize, offset .. '-0', 'd', data)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', history, ttl)
  redis.call(publish, pubsub, offset .. ':' .. epoch .. ':' .. clock .. ':' .. data)
  if dedupe > 0 then
    redis.call('SET', stored, offset .. ':' .. epoch, 'EX', dedupe)
  end
  return offset, epoch
end

local replies = {}
for w = 0, #KEYS / 3 - 1 do
  local at = 5 + 4 * w
  local ok, offset, epoch = pcall(write, KEYS[3 * w + 1], KEYS[3 * w + 2], KEYS[3 * w + 3],
    ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4]))
  if ok then
    replies[2 * w + 1] = offset
    replies[2 * w + 2] = epoch
  else
    -- Offset 0 (never a stored one) and the error: this write failed, the others go on.
    replies[2 * w + 1] = 0
    replies[2 * w + 2] = type(offset) == 'table' and offset.err or tostring(offset)
  end
end
return replies
