#!lua
-- Claims an Idempotency-Key, or returns what is already stored under it, as one atomic step: of two
-- concurrent retries (on two replicas) exactly one claims the key and publishes.
--
-- KEYS[1]  herald:idem:{<api key name>:<idempotency key>}
-- ARGV[1]  the pending record (JSON) to store if the key is free
-- ARGV[2]  its TTL in seconds (bounds a holder that crashed before completing)
-- Returns false when claimed, else the stored record (JSON).
local existing = redis.call('GET', KEYS[1])
if existing then
  return existing
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
