#!lua
-- Gives up an Idempotency-Key claimed by one attempt, as one atomic step: the record is deleted only
-- while it is still that attempt's pending claim (a late release never frees a later attempt's claim
-- or a completed record).
--
-- KEYS[1]  herald:idem:{<api key name>:<idempotency key>}
-- ARGV[1]  the attempt (the `attempt` of the pending record its claim stored)
-- Returns 1 when deleted, else 0.
local existing = redis.call('GET', KEYS[1])
if not existing then
  return 0
end
local ok, record = pcall(cjson.decode, existing)
if ok and type(record) == 'table' and record.state == 'pending' and record.attempt == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
