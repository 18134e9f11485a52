-- Records an accepted push for subscriptions that still exist (one removed meanwhile — a 410 from
-- another push, a DELETE — must not come back as a half entry).
--
-- KEYS[1]  herald:push:subs:{user:<id>}, KEYS[2] herald:push:recent:{user:<id>}, KEYS[3] herald:push:pushed:{user:<id>}
-- ARGV[1]  when (ms), ARGV[2…] subscription ids
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[1])
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return 0
