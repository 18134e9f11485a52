-- Forgets which user holds an endpoint, unless another user took it meanwhile.
--
-- KEYS[1]  herald:push:owner:{push:<subscription id>}  string: the user holding that endpoint
-- ARGV[1]  the user giving it up
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
