#!lua
-- Tells whether a notification this replica had answered 202 for is still stored where its channel is
-- served now (after a failover, a migration or a reconnect): see acked-writes.ts.
--
-- KEYS[1]  meta hash {epoch, offset}
-- KEYS[2]  history stream
-- ARGV[1]  the epoch it was stored in
-- ARGV[2]  its offset
-- ARGV[3]  the start of its data, which names its id ({"id":…,"channel":…,"offset":)
-- Returns 1 when it is there, 0 when it is lost (the channel is behind its offset, or another
-- notification holds it, in the same epoch), 2 when nothing tells: the channel's life has ended (its
-- next notification starts a new epoch), or the entry was trimmed from history.
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
if meta[1] ~= ARGV[1] then
  return 2
end
if tonumber(meta[2] or '0') < tonumber(ARGV[2]) then
  return 0
end
local entries = redis.call('XRANGE', KEYS[2], ARGV[2] .. '-0', ARGV[2] .. '-0')
if #entries == 0 then
  return 2
end
if string.sub(entries[1][2][2], 1, #ARGV[3]) == ARGV[3] then
  return 1
end
return 0
