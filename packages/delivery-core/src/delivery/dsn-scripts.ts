/**
 * The DSN report collector's Lua scripts (dsn-reports.ts), each with its KEYS / ARGV contract;
 * times are the Redis server's clock (ms), so relays with skewed clocks agree on what is overdue.
 */

/** Arguments passed to one Redis command via unpack at most (its stack is bounded). */
const UNPACK_CHUNK = 1000;

/** Collector field of a delay notice's line, claimed and not spooled yet. */
export const DELAY_LINE_FIELD = 'delay-line:';

/**
 * KEYS[1] a due zset (reports or delay notices). ARGV[1] message id, ARGV[2] grace (ms). Claims a
 * due message for a sweep: when its score is at least ARGV[2] old on the server's clock, moves it
 * to now (another sweep waits a grace again) and returns 1; else 0.
 */
export const CLAIM_DUE_LUA = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) > now - tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1`;

/**
 * KEYS[1] DSN report collector, KEYS[2] delay-due zset. ARGV[1] message id, ARGV[2] the report's
 * envelope (meta JSON), ARGV[3] claim time (ms), ARGV[4..] pairs of (lower-cased address, line
 * JSON). Claims each address's delay notice once per message (`HSETNX delay:<address>`) and, in
 * the same step, records the line of each address it claimed (`delay-line:<address>`) and puts
 * the message in the delay-due zset (NX: an older claim keeps its score), so a crash before the
 * notice is spooled leaves it for the sweep. Returns the addresses claimed now.
 */
export const CLAIM_DELAY_LUA = `
redis.call('HSET', KEYS[1], 'meta', ARGV[2])
local fresh = {}
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], 'delay:' .. ARGV[i], ARGV[3]) == 1 then
    redis.call('HSET', KEYS[1], '${DELAY_LINE_FIELD}' .. ARGV[i], ARGV[i + 1])
    fresh[#fresh + 1] = ARGV[i]
  end
end
if #fresh > 0 then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[2], 'NX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
end
return fresh`;

/**
 * KEYS[1] DSN report collector, KEYS[2] delay-due zset. ARGV[1] message id, ARGV[2..] the
 * `delay-line:<address>` fields just spooled. Drops them; when the collector holds no delay line
 * any more, takes the message off the delay-due zset. Returns the delay lines left.
 */
export const DELAY_SENT_LUA = `
for i = 2, #ARGV, ${UNPACK_CHUNK} do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + ${UNPACK_CHUNK - 1}, #ARGV)))
end
local left = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, ${DELAY_LINE_FIELD.length}) == '${DELAY_LINE_FIELD}' then left = left + 1 end
end
if left == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return left`;
