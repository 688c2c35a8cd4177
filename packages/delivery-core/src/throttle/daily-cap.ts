/**
 * A counter with a cap, shared by every relay: `take(key, n, cap)` adds n only if the total stays
 * within the cap (one Lua script, atomic across processes); `giveBack(key, n)` returns what a take
 * added and was not used (never below 0, never creating the key); `counts` reads them. Used for the
 * warm-up daily caps (key per source IP, site and UTC day, chosen by the caller). Each key
 * expires `ttlMs` after its first take, so old days vanish. Needs an ioredis client injected.
 * Key: `<keyPrefix>:cap:<key>`.
 */

import { capKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { defineScript, type ScriptCall } from './script.js';

/** A day's counter outlives its day by this much (clock skew between relays), then vanishes. */
export const DAILY_CAP_TTL_MS = 2 * 86_400_000;

/**
 * daily-cap.lua
 *
 * KEYS[1]  the counter (string integer; absent = 0)
 * ARGV[1]  n to add, integer >= 1
 * ARGV[2]  cap, integer >= 1
 * ARGV[3]  ttl ms, set when the key is created
 *
 * Returns {taken, total}: taken 1 when total + n <= cap, or when the counter is at 0 (a first
 * take bigger than the cap still goes, once); else 0 and nothing is added.
 */
export const DAILY_CAP_LUA = `
local n = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if total > 0 and total + n > cap then return {0, total} end
total = redis.call('INCRBY', KEYS[1], n)
if total == n then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, total}`;

/**
 * daily-cap-give-back.lua
 *
 * KEYS[1]  the counter (as above)   ARGV[1] n to give back, integer >= 1
 *
 * Takes n off the counter, at most down to 0; an absent counter (expired) stays absent. Returns
 * the total after. Flagged `allow-oom`: it only lowers an existing counter (a full Redis would
 * refuse `DECRBY`, and the count would stay taken for the day).
 */
export const DAILY_CAP_GIVE_BACK_LUA = `#!lua flags=allow-oom
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if total <= 0 then return 0 end
return redis.call('DECRBY', KEYS[1], math.min(tonumber(ARGV[1]), total))`;

export class DailyCap {
  private readonly run: ScriptCall;
  private readonly giveBackScript: ScriptCall;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keyPrefix: string; ttlMs?: number },
  ) {
    this.run = defineScript(redis, 'heraldThrottleDailyCap', 1, DAILY_CAP_LUA);
    this.giveBackScript = defineScript(redis, 'heraldThrottleDailyCapGiveBack', 1, DAILY_CAP_GIVE_BACK_LUA);
  }

  private key(key: string): string {
    return capKey(this.options.keyPrefix, key);
  }

  /** Adds n when the total stays within cap; returns whether it did and the total after. */
  async take(key: string, n: number, cap: number): Promise<{ taken: boolean; total: number }> {
    const [taken, total] = (await this.run(
      this.key(key),
      n,
      cap,
      this.options.ttlMs ?? DAILY_CAP_TTL_MS,
    )) as [number, number];
    return { taken: taken === 1, total };
  }

  /** Returns n that a `take` of `key` added and was not used; the total after (at least 0). */
  async giveBack(key: string, n: number): Promise<number> {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
    return (await this.giveBackScript(this.key(key), n)) as number;
  }

  /**
   * The counts of several keys (0 for absent ones): one GET each, sent together (the keys have
   * no common hash tag, so one MGET would cross slots on a cluster).
   */
  async counts(keys: readonly string[]): Promise<number[]> {
    const values = await Promise.all(keys.map((k) => this.redis.get(this.key(k))));
    return values.map((v) => Number(v ?? 0));
  }
}
