-- Reschedules (ARGV[3] set) or removes (no ARGV[3]) a claimed push only while the caller still holds
-- its lease: a holder slower than its lease must not undo what the next holder did.
--
-- KEYS[1]  herald:pushq:{<n>}
-- ARGV[1]  member, ARGV[2] the caller's lease (ms), ARGV[3] new due time (ms), if rescheduling
-- Returns 1 when done, 0 when the lease is no longer the caller's.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
