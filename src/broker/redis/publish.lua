#!lua
-- Stores notifications in channels' histories and publishes them: N channel writes, each one atomic
-- step. Atomic because the offset a notification gets, its place in the history stream and the order
-- in which subscribers receive it must agree: with publishers on many replicas, every subscriber then
-- sees offsets 1, 2, 3, ... in order. The writes run in the order given (two new writes to one channel
-- get consecutive offsets in that order; a dedupe hit takes none). A write that Redis refuses (a key of
-- the wrong type, say) comes back as offset 0 with the error, and the writes after it go on: it fails
-- only the publish that asked for it (Redis does not undo the commands it ran before).
--
-- Two forms of call:
-- * Keys declared (one Redis: up to 256 writes per call; a Redis Cluster's single-write calls, whose
--   keys are all in the channel's hash slot ({channel} tag): the #!lua line makes Redis enforce that
--   every key and shard channel of such a call is in one slot, and route or redirect it by its keys).
-- * No key declared: a Redis Cluster node's call, carrying the writes of every slot it serves. Redis
--   allows keys of several slots in one call only undeclared, with flags=allow-cross-slot-keys on the
--   #!lua line (the broker sends that form with it), and checks each command's keys as it runs. A
--   write runs the commands Redis may refuse there before it changes anything: the reads of its
--   dedupe marker and meta hash, then the XADD to its history (an existing channel's first change;
--   all of the channel's keys are local, or one of these is refused). So a write this node does not
--   serve now (the slot moved, or is moving and its keys are partly gone, or the cluster is down)
--   comes back as offset -1 with the error: nothing of it ran, it may be sent again elsewhere.
--
-- Per write w (from 0), its three keys: KEYS[3w+1 .. 3w+3] if declared, else leading its arguments:
--   meta hash {epoch, offset}
--   history stream; entry id "<offset>-0", field d = notification data JSON
--   dedupe marker of this notification id in this channel ("<offset>:<epoch>")
-- Once per call, ARGV[1 .. 5]:
--   epoch to use for a channel with no history (a new life)
--   history size (entries kept)
--   history TTL in seconds (from the last notification)
--   the publishing replica's clock (ms), for the delivery-lag metric
--   PUBLISH, or SPUBLISH on a Redis Cluster (sharded pub/sub: the channel is in the keys' slot)
-- Per write w, ARGV[5+4w+1 .. 5+4w+4] (keys declared) or ARGV[5+7w+4 .. 5+7w+7] (after its keys):
--   pub/sub channel of the write's channel
--   data JSON up to the offset: {"id":…,"channel":…,"offset":
--   data JSON after the epoch: ,"type":…,"payload":…,"createdAt":…}
--   dedupe TTL in seconds; 0 = no dedupe. With it, a notification id already stored in this channel
--   is not stored again (a retry after a partial failure) and its delivery is returned.
-- Returns {offset, epoch} per write, flat and in order: {offset1, epoch1, offset2, epoch2, ...};
-- {0, error} for a write that failed, {-1, error} for one that did not run (undeclared keys only).
-- Publishes "<offset>:<epoch>:<clock>:<data JSON>" per write.
local newEpoch, historySize, ttl, clock, publish = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Whether the write being run has changed anything yet: one that fails before that ran nothing.
local changed

local function write(meta, history, stored, pubsub, head, tail, dedupe)
  local seen = dedupe > 0 and redis.call('GET', stored)
  if seen then
    local separator = string.find(seen, ':', 1, true)
    return tonumber(string.sub(seen, 1, separator - 1)), string.sub(seen, separator + 1)
  end
  local current = redis.call('HMGET', meta, 'epoch', 'offset')
  local epoch, number = current[1], (tonumber(current[2]) or 0) + 1
  -- The offset as text once: every use of a number in a string costs a conversion (an sprintf).
  local offset = tostring(number)
  if not epoch then
    epoch = newEpoch
    changed = true
    -- A stream that outlived its meta belongs to the previous life.
    redis.call('DEL', history)
    redis.call('HSET', meta, 'epoch', epoch)
  end
  local data = head .. offset .. ',"epoch":"' .. epoch .. '"' .. tail
  -- An existing channel's first change, and the write's first use of its history.
  redis.call('XADD', history, 'MAXLEN', historySize, offset .. '-0', 'd', data)
  changed = true
  redis.call('HSET', meta, 'offset', offset)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', history, ttl)
  redis.call(publish, pubsub, offset .. ':' .. epoch .. ':' .. clock .. ':' .. data)
  if dedupe > 0 then
    redis.call('SET', stored, offset .. ':' .. epoch, 'EX', dedupe)
  end
  return number, epoch
end

local declared = #KEYS > 0
local writes = declared and #KEYS / 3 or (#ARGV - 5) / 7
local replies = {}
for w = 0, writes - 1 do
  local meta, history, stored, at
  if declared then
    meta, history, stored, at = KEYS[3 * w + 1], KEYS[3 * w + 2], KEYS[3 * w + 3], 5 + 4 * w
  else
    at = 5 + 7 * w
    meta, history, stored, at = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], at + 3
  end
  changed = false
  local ok, offset, epoch = pcall(write, meta, history, stored, ARGV[at + 1], ARGV[at + 2], ARGV[at + 3],
    tonumber(ARGV[at + 4]))
  if ok then
    replies[2 * w + 1] = offset
    replies[2 * w + 2] = epoch
  else
    -- The error, after offset 0 (never a stored one: this write failed, the others go on) or, for a
    -- cluster node's call, -1 if nothing of it ran here.
    replies[2 * w + 1] = (not declared and not changed) and -1 or 0
    replies[2 * w + 2] = type(offset) == 'table' and offset.err or tostring(offset)
  end
end
return replies
