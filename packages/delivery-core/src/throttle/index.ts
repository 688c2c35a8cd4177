/**
 * Throttle: Redis primitives for traffic shaping shared by every relay process.
 *
 * Owns: keys `<keyPrefix>:gcra:<key>` (a GCRA TAT per rate-limited thing), `<keyPrefix>:sem:<key>`
 * (a sorted set of leases per connection-slot pool) and `<keyPrefix>:cap:<key>` (capped counters,
 * e.g. warm-up daily caps). Every key carries a TTL, so idle keys vanish.
 *
 * Guarantees: each operation is one Lua script, one Redis round trip, atomic across processes.
 * - RateLimiter: across all callers, a key never admits more than `burst` cells at once nor more
 *   than the rate over time; `reserve` always books the next slot (a backlog of N costs N calls).
 * - LeasedSemaphore: at most `limit` unexpired leases per key; a holder that stops renewing (crash)
 *   loses its slot after the lease TTL (LEASE_TTL_MS, 30 s by default).
 * - DailyCap: a counter never goes over its cap through `take` (except one first take > cap);
 *   `giveBack` returns an unused take (never below 0).
 * - Time is the Redis server's TIME (one timeline for all relays) unless a `now` clock is injected.
 *
 * Needs injected: an ioredis client (scripts are registered on it with defineCommand, names
 * `heraldThrottle*`). Redis errors propagate unchanged.
 */

export { DAILY_CAP_GIVE_BACK_LUA, DAILY_CAP_LUA, DAILY_CAP_TTL_MS, DailyCap } from './daily-cap.js';
export {
  GCRA_IDLE_GRACE_MS,
  GCRA_LUA,
  RateLimiter,
  type RateLimiterOptions,
} from './gcra.js';
export { DEFAULT_BURST, emissionIntervalMs, parseRate, type Rate } from './rate.js';
export {
  LEASE_TTL_MS,
  type Lease,
  LeasedSemaphore,
  type LeasedSemaphoreOptions,
  type LeaseLostReason,
  NODE_SEPARATOR,
  type Refused,
  SEMAPHORE_ACQUIRE_LUA,
  SEMAPHORE_RECLAIM_LUA,
  SEMAPHORE_RELEASE_LUA,
  SEMAPHORE_RENEW_LUA,
} from './semaphore.js';
