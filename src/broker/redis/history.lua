#!lua
-- Reads a channel's position and its stored notifications after an offset, as one atomic step, so
-- the position and the entries agree while publishers keep appending. A channel with no history
-- starts a new life here (epoch from ARGV[3], offset 0), so a subscriber that saw "offset 0, epoch e"
-- can later recover from it.
--
-- KEYS[1]  meta hash {epoch, offset}
-- KEYS[2]  history stream (entry id "<offset>-0", field d)
-- ARGV[1]  after: return entries with offset > after
-- ARGV[2]  limit: at most this many entries
-- ARGV[3]  epoch to use if the channel has no history
-- ARGV[4]  history TTL in seconds (only for a new life)
-- Returns {epoch, offset, {id1, data1, id2, data2, ...}} (ids "<offset>-0").
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch, offset = meta[1], tonumber(meta[2] or '0')
if not epoch then
  epoch = ARGV[3]
  offset = 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return {epoch, offset, {}}
end
local data = {}
if offset > tonumber(ARGV[1]) then
  local entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+', 'COUNT', ARGV[2])
  for _, entry in ipairs(entries) do
    data[#data + 1] = entry[1]
    data[#data + 1] = entry[2][2]
  end
end
return {epoch, offset, data}
