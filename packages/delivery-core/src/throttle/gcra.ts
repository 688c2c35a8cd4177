/**
 * A GCRA (generic cell rate algorithm) rate limiter shared by every relay: one Redis key per
 * limited thing holds its TAT (theoretical arrival time), updated atomically by one Lua script,
 * so N processes together never exceed the rate. Needs an ioredis client injected.
 *
 * Clock: by default the script reads the Redis server's TIME, so relays whose clocks disagree
 * still share one timeline (a relay running 2 s fast must not spend cells early). `now` in the
 * options overrides it with the caller's clock (tests with a fake clock; every process sharing a
 * key must then use the same kind of clock).
 */

import { gcraKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { burstOf, emissionIntervalMs, type Rate } from './rate.js';
import { clockArg, defineScript, redisNow, type ScriptCall } from './script.js';

/**
 * Added to a key's PEXPIRE beyond its TAT: an idle key (TAT in the past) means the same as no key,
 * so it may vanish; the grace keeps it while callers with a slightly different clock still use it.
 */
export const GCRA_IDLE_GRACE_MS = 1_000;

/**
 * gcra.lua
 *
 * KEYS[1]  the limiter's TAT key: a string, TAT in ms (may be fractional); absent = idle
 * ARGV[1]  emission interval in ms (period / count), > 0, may be fractional
 * ARGV[2]  burst: tolerance in cells, integer >= 1 (how many may go at once when idle)
 * ARGV[3]  cost in cells, integer >= 1
 * ARGV[4]  now in ms, or '' to use the Redis server's TIME
 * ARGV[5]  '1' reserve: always book and report the delay; '0' try: book only if allowed now
 * ARGV[6]  idle grace in ms added to the key's expiry
 *
 * Returns {booked, waitMs, nowMs} (integers; waitMs rounded up):
 *   try      {1, 0, now} booked now | {0, retryAfterMs, now} nothing booked
 *   reserve  {1, delayMs, now} always booked; the slot starts at now + delayMs
 * When booked: TAT = max(TAT, now) + cost * interval, and the key expires at TAT + grace.
 */
export const GCRA_LUA = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[4])
end
local reserve = ARGV[5] == '1'
local grace = tonumber(ARGV[6])
-- float slack: a sub-microsecond remainder counts as "now"
local EPSILON_MS = 0.001

local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
-- earliest start of this request: new TAT minus the burst tolerance
local wait = (tat - now) - (burst - cost) * interval
if wait <= EPSILON_MS then wait = 0 end
if wait > 0 and not reserve then
  return {0, math.ceil(wait), now}
end
local newTat = tat + cost * interval
redis.call('SET', KEYS[1], string.format('%.17g', newTat), 'PX', math.ceil(newTat - now) + grace)
return {1, math.ceil(wait), now}
`;

const GCRA_COMMAND = 'heraldThrottleGcra';

export interface RateLimiterOptions {
  /** Keys are `<keyPrefix>:gcra:<key>`. */
  keyPrefix: string;
  /** The caller's clock in ms; default: the Redis server's TIME (robust against relay clock skew). */
  now?: () => number;
}

export class RateLimiter {
  private readonly gcra: ScriptCall;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: RateLimiterOptions,
  ) {
    this.gcra = defineScript(redis, GCRA_COMMAND, 1, GCRA_LUA);
  }

  /** The Redis key holding `key`'s TAT. */
  keyOf(key: string): string {
    return gcraKey(this.opts.keyPrefix, key);
  }

  /**
   * Takes `cost` cells now if the rate allows it; otherwise takes nothing and says how long until
   * it would. One Redis call. `cost` must not exceed the burst (it could never pass).
   */
  async tryAcquire(key: string, rate: Rate, cost = 1): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const burst = burstOf(rate);
    checkCost(cost);
    if (cost > burst) throw new RangeError(`cost ${cost} exceeds burst ${burst}: it could never be allowed`);
    const [booked, waitMs] = await this.run(key, rate, burst, cost, false);
    return { allowed: booked === 1, retryAfterMs: waitMs };
  }

  /**
   * Always books the next free slot for `cost` cells and returns when it starts: `delayMs` from
   * now, `at` in ms on the limiter's clock (Redis TIME unless `now` was given). A rescheduled job
   * books its own future slot this way, so a backlog of N jobs costs N calls, not N retries each.
   * Every reservation pushes the TAT forward by cost × interval.
   */
  async reserve(key: string, rate: Rate, cost = 1): Promise<{ delayMs: number; at: number }> {
    checkCost(cost);
    const [, delayMs, now] = await this.run(key, rate, burstOf(rate), cost, true);
    return { delayMs, at: now + delayMs };
  }

  /**
   * How long until `key` would next allow one cell at `rate` (ms, 0 when free now), on the
   * limiter's clock. Read-only, books nothing: for operators (`herald shaping explain`).
   */
  async nextFreeInMs(key: string, rate: Rate): Promise<number> {
    const [tat, now] = await Promise.all([
      this.redis.get(this.keyOf(key)),
      this.opts.now ? this.opts.now() : redisNow(this.redis),
    ]);
    if (tat === null) return 0;
    const wait = Number(tat) - now - (burstOf(rate) - 1) * emissionIntervalMs(rate);
    return Math.max(0, Math.ceil(wait));
  }

  private async run(
    key: string,
    rate: Rate,
    burst: number,
    cost: number,
    reserve: boolean,
  ): Promise<[number, number, number]> {
    const reply = (await this.gcra(
      this.keyOf(key),
      emissionIntervalMs(rate),
      burst,
      cost,
      clockArg(this.opts.now),
      reserve ? '1' : '0',
      GCRA_IDLE_GRACE_MS,
    )) as [number, number, number];
    return reply;
  }
}

function checkCost(cost: number): void {
  if (!Number.isSafeInteger(cost) || cost < 1)
    throw new RangeError(`cost must be an integer >= 1, got ${cost}`);
}
