-- Takes the due pushes of one queue bucket and leases them to the caller, in one step: of replicas
-- polling the same bucket at the same moment, each due push goes to exactly one. A push whose lease
-- passes (its holder died) is due again and is taken by the next poll.
--
-- KEYS[1]  herald:pushq:{<n>}  sorted set: `<notification id>\n<user id>` → due time or lease (ms)
-- ARGV[1]  now (ms), ARGV[2] lease end (ms), ARGV[3] most to take
-- Returns the members taken.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
end
return due
