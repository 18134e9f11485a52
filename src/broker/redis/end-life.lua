#!lua
-- Ends a channel's history life if it is still in the given epoch: the next publish (or read) starts
-- a new epoch at offset 0. Used when Redis reused offsets that replicas had already delivered (it
-- lost its last writes in a crash between AOF fsyncs). Every key is in the channel's hash slot.
--
-- KEYS[1]  meta hash {epoch, offset}
-- KEYS[2]  history stream
-- ARGV[1]  the epoch whose offsets were reused
-- Returns 1 when this call ended the life, 0 when it had already moved on.
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
