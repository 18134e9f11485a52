-- Records a notification published with `push`: its content and a delivery record for each target
-- user that has none, in one step, so that an ack arriving right after the publish finds its record.
-- A retried publish (same id) leaves every existing record — delivered, pushed, pending — as it is.
--
-- KEYS[1]  herald:push:notification:{notification:<id>}  hash: `content` → JSON, `user:<id>` → record JSON
-- ARGV[1]  content JSON, ARGV[2] TTL (s), ARGV[3] the new records' JSON, ARGV[4…] user ids
-- Returns the users whose record is `pending`.
redis.call('HSETNX', KEYS[1], 'content', ARGV[1])
local pending = {}
for i = 4, #ARGV do
  local field = 'user:' .. ARGV[i]
  local state
  if redis.call('HSETNX', KEYS[1], field, ARGV[3]) == 1 then
    state = cjson.decode(ARGV[3]).state
  else
    state = cjson.decode(redis.call('HGET', KEYS[1], field)).state
  end
  if state == 'pending' then
    pending[#pending + 1] = ARGV[i]
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return pending
