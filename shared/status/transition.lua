-- facefleet job status transitions. Every write to a job record goes through
-- this script, so the rules hold under any concurrency:
--   queued < running < terminal (succeeded | failed | canceled);
--   a terminal record never changes (except an operator's requeue of a
--   failed job: failed → queued); percent never decreases within a run;
--   a stale or duplicate delivery never moves a job backwards.
-- KEYS[1] record hash: the only key, so the script is slot-safe in Redis
-- Cluster; the events channel is KEYS[1] .. ':events' (Store.Channel), not a
-- key (PUBLISH reaches subscribers on every Cluster node).
-- ARGV[1] op, ARGV[2] now (RFC 3339), ARGV[3] ttl in ms (0 = none), ARGV[4..] op args.
-- Returns {result, HGETALL}: result is ok | nochange | exists | notfound | terminal | stale.
local key = KEYS[1]
local chan = key .. ':events'
local op, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function commit(fields)
  redis.call('HSET', key, 'updated_at', now, unpack(fields))
  redis.call('HINCRBY', key, 'revision', 1)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  local all = redis.call('HGETALL', key)
  local m = {}
  for i = 1, #all, 2 do m[all[i]] = all[i + 1] end
  redis.call('PUBLISH', chan, cjson.encode(m))
  return {'ok', all}
end

if op == 'create' then
  if redis.call('EXISTS', key) == 1 then return {'exists', redis.call('HGETALL', key)} end
  local f = {}
  for i = 4, #ARGV do f[#f + 1] = ARGV[i] end
  return commit(f)
end

local function terminal(s) return s == 'succeeded' or s == 'failed' or s == 'canceled' end

if op == 'reject' then
  -- A refused message: ARGV[4] code, ARGV[5] message, ARGV[6] tenant,
  -- ARGV[7..] the fields of a new record. No record: create it failed. A
  -- record of another tenant is never touched (stale); else as 'fail'.
  local failed = {'state', 'failed', 'error_code', ARGV[4], 'error_message', ARGV[5], 'finished_at', now}
  if redis.call('EXISTS', key) == 0 then
    local f = {}
    for i = 7, #ARGV do f[#f + 1] = ARGV[i] end
    for _, v in ipairs(failed) do f[#f + 1] = v end
    return commit(f)
  end
  if terminal(redis.call('HGET', key, 'state')) then return {'terminal', redis.call('HGETALL', key)} end
  if redis.call('HGET', key, 'tenant') ~= ARGV[6] then return {'stale', redis.call('HGETALL', key)} end
  return commit(failed)
end

if redis.call('EXISTS', key) == 0 then return {'notfound', {}} end
local state = redis.call('HGET', key, 'state')

if op == 'requeue' then
  -- An operator resubmits a dead-lettered job: failed → queued, the only
  -- way out of a terminal state; ARGV[4] input and ARGV[5] options of the
  -- resubmitted message (kept when empty). Queued or running: nothing to do.
  if state == 'failed' then
    local f = {'state', 'queued', 'stage', '', 'percent', '0', 'error_code', '', 'error_message', '',
      'finished_at', '', 'started_at', '', 'cancel_requested', '0'}
    if ARGV[4] ~= '' then f[#f + 1] = 'input'; f[#f + 1] = ARGV[4] end
    if ARGV[5] ~= '' then f[#f + 1] = 'options'; f[#f + 1] = ARGV[5] end
    return commit(f)
  end
  if terminal(state) then return {'terminal', redis.call('HGETALL', key)} end
  return {'nochange', redis.call('HGETALL', key)}
end

if terminal(state) then
  return {'terminal', redis.call('HGETALL', key)}
end
local function current() return {'nochange', redis.call('HGETALL', key)} end
local function stale() return {'stale', redis.call('HGETALL', key)} end

if op == 'start' then
  -- ARGV[7], when given, is the tenant of the message: a record of another
  -- tenant is never started by it.
  if ARGV[7] and ARGV[7] ~= '' and redis.call('HGET', key, 'tenant') ~= ARGV[7] then return stale() end
  local attempt = tonumber(ARGV[6])
  local cur = tonumber(redis.call('HGET', key, 'attempts')) or 0
  if state == 'running' then
    if attempt < cur then return stale() end
    if attempt == cur then return current() end -- duplicate start of this run
  end
  return commit({'state', 'running', 'worker', ARGV[4], 'device', ARGV[5], 'attempts', ARGV[6],
    'started_at', now, 'stage', '', 'percent', '0'})
elseif op == 'progress' then
  if state ~= 'running' then return stale() end
  local p = tonumber(ARGV[5])
  local cur = tonumber(redis.call('HGET', key, 'percent')) or 0
  if p < cur then return stale() end
  if p == cur and redis.call('HGET', key, 'stage') == ARGV[4] then return current() end
  return commit({'stage', ARGV[4], 'percent', ARGV[5]})
elseif op == 'succeed' then
  if state ~= 'running' then return stale() end
  return commit({'state', 'succeeded', 'stage', '', 'percent', '100', 'outputs', ARGV[4],
    'timings', ARGV[5], 'finished_at', now})
elseif op == 'fail' then
  return commit({'state', 'failed', 'error_code', ARGV[4], 'error_message', ARGV[5], 'finished_at', now})
elseif op == 'cancel' then
  if state == 'queued' then
    return commit({'state', 'canceled', 'cancel_requested', '1', 'finished_at', now})
  end
  if redis.call('HGET', key, 'cancel_requested') == '1' then return current() end
  return commit({'cancel_requested', '1'})
elseif op == 'canceled' then
  return commit({'state', 'canceled', 'finished_at', now})
end
return redis.error_reply('unknown op ' .. tostring(op))
