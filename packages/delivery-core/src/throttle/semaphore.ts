/**
 * A leased semaphore shared by every relay: at most `limit` holders of a key (connection slots
 * per site or per IP). A sorted set per key holds lease ids scored by expiry time (ms); holders
 * renew before the TTL, so a crashed holder's slot frees itself once its lease expires. Acquire,
 * renew and release are single Lua scripts (atomic). Needs an ioredis client injected. Clock:
 * the Redis server's TIME unless `now` is given (see gcra.ts).
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { semaphoreKey } from '../keys/index.js';
import { type RedisClient, scanKeys } from '../redis/index.js';
import { clockArg, defineScript, redisNow, type ScriptCall } from './script.js';

/** How long a lease lives without renewal. */
export const LEASE_TTL_MS = 30_000;
/** Auto-renew runs this many times per TTL, so two renewals may fail before the lease is lost. */
const RENEWALS_PER_TTL = 3;

const NOW_LUA = `
local now
if ARGV[CLOCK] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[CLOCK])
end`;
/**
 * A script reading the clock from ARGV[argIndex] (or Redis TIME), then `body`. `flags`: a Redis 7
 * shebang's flags, which must be the script's very first line (so it comes before NOW_LUA).
 */
const withClock = (argIndex: number, body: string, flags?: string) =>
  (flags ? `#!lua flags=${flags}\n` : '') + NOW_LUA.replaceAll('CLOCK', String(argIndex)) + body;

/**
 * semaphore-acquire.lua
 *
 * KEYS[1]  sorted set of leases: member = lease id, score = expiry time in ms
 * KEYS[2]  optional (the capped variant): a decimal that lowers the limit to its whole part
 *          (at least 1) while it exists, e.g. a lane's concurrency window; same hash slot
 * ARGV[1]  lease id   ARGV[2] limit (integer >= 1)   ARGV[3] ttl ms   ARGV[4] now ms or '' (Redis TIME)
 *
 * Drops expired leases, then: if fewer than `limit` remain (or the id already holds one), adds or
 * refreshes the lease with expiry now + ttl and returns {1, leaseId, expiresAt}; otherwise
 * returns {0, ms until the earliest lease expires (>= 1)}. The key expires when its last lease would.
 */
export const SEMAPHORE_ACQUIRE_LUA = withClock(
  4,
  `
local ttl = tonumber(ARGV[3])
local limit = tonumber(ARGV[2])
if KEYS[2] then
  local cap = tonumber(redis.call('GET', KEYS[2]))
  if cap then
    cap = math.max(1, math.floor(cap))
    if cap < limit then limit = cap end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  return {1, ARGV[1], now + ttl}
end
local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = math.ceil(tonumber(earliest[2]) - now)
if wait < 1 then wait = 1 end
return {0, wait}
`,
);

/**
 * semaphore-renew.lua
 *
 * KEYS[1]  sorted set of leases (as above)
 * ARGV[1]  lease id   ARGV[2] ttl ms   ARGV[3] now ms or '' (Redis TIME)
 *
 * If the lease is held and unexpired, sets its expiry to now + ttl and returns that expiry (ms, > 0);
 * otherwise removes any expired remnant and returns 0 (lost: its slot may already be someone else's).
 * Flagged `allow-oom`: a full Redis (`maxmemory`, `noeviction`) refuses `ZADD` even with `XX`, and
 * a lease lapsing under a holder still at work lets another take its slot (the limit exceeded); the
 * script only moves an existing entry's score, so it takes no memory. Release and reclaim need no
 * flag: their only write is `ZREM`, which Redis runs when full. Acquire adds and has no flag (yet
 * runs when full too: Redis checks a script without shebang at its first write only, here the
 * expiry sweep's `ZREMRANGEBYSCORE`, which is allowed).
 */
export const SEMAPHORE_RENEW_LUA = withClock(
  3,
  `
local ttl = tonumber(ARGV[2])
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return 0 end
if tonumber(expiry) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return now + ttl
`,
  'allow-oom',
);

/**
 * semaphore-release.lua
 *
 * KEYS[1]  sorted set of leases (as above)
 * ARGV[1]  lease id
 *
 * Removes the lease (an emptied set disappears). Returns 1 if it was there, 0 if not.
 */
export const SEMAPHORE_RELEASE_LUA = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

/**
 * semaphore-reclaim.lua
 *
 * KEYS[1]  sorted set of leases (as above)
 * ARGV[1]  owner prefix of lease ids (a node: "<node id>|")
 * ARGV[2]  the current holder's prefix ("<node id>|<incarnation>:"), whose leases are kept
 *
 * Removes every lease whose id starts with ARGV[1] but not with ARGV[2]: those a previous
 * incarnation of the node held when it died. Returns how many were removed.
 */
export const SEMAPHORE_RECLAIM_LUA = `
local removed = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(id, 1, #ARGV[1]) == ARGV[1] and string.sub(id, 1, #ARGV[2]) ~= ARGV[2] then
    redis.call('ZREM', KEYS[1], id)
    removed = removed + 1
  end
end
return removed
`;

/** Keys looked at per SCAN step when reclaiming. */
const RECLAIM_SCAN_COUNT = 500;

export type LeaseLostReason = 'expired' | 'error';

export interface Lease {
  readonly acquired: true;
  /** `<holder>:<uuid>` (holder: `<hostname>:<pid>` or `<node id>|<incarnation>`): unique, names its holder. */
  readonly id: string;
  /** The key passed to acquire (not the Redis key). */
  readonly key: string;
  /** Expiry after the last acquire/renew, in ms on the semaphore's clock. */
  readonly expiresAt: number;
  /** Extends the lease by the TTL; false if it was already lost (expired or released). */
  renew(): Promise<boolean>;
  /** Frees the slot and stops auto-renew; true if the lease was still held. Idempotent. */
  release(): Promise<boolean>;
  /**
   * Renews every ttl/3 (unref'd timer) until release(). Stops and calls `onLost` if a renewal
   * finds the lease gone, or if renewals keep failing (Redis errors) for a whole TTL.
   */
  autoRenew(onLost?: (reason: LeaseLostReason, err?: unknown) => void): void;
}

export interface Refused {
  readonly acquired: false;
  /** ms until the earliest current lease expires (a release may free a slot sooner). */
  readonly retryAfterMs: number;
}

export interface LeasedSemaphoreOptions {
  /** Keys are `<keyPrefix>:sem:<key>`. */
  keyPrefix: string;
  leaseTtlMs?: number;
  /** The caller's clock in ms; default: the Redis server's TIME. */
  now?: () => number;
  /**
   * Who holds the leases, written at the start of each lease id: `<node id>|<incarnation>` for a
   * relay with a stable node id (so its next incarnation can `reclaim` them), default
   * `<hostname>:<pid>`. Must not contain ':' after the node id's own.
   */
  holder?: string;
}

const DEFAULT_HOLDER = `${hostname()}:${process.pid}`;
/** Separates a node id from its incarnation in a lease id. */
export const NODE_SEPARATOR = '|';

export class LeasedSemaphore {
  readonly leaseTtlMs: number;
  private readonly acquireScript: ScriptCall;
  private readonly acquireCappedScript: ScriptCall;
  private readonly renewScript: ScriptCall;
  private readonly releaseScript: ScriptCall;
  private readonly reclaimScript: ScriptCall;
  private readonly holder: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: LeasedSemaphoreOptions,
  ) {
    this.leaseTtlMs = opts.leaseTtlMs ?? LEASE_TTL_MS;
    if (!Number.isSafeInteger(this.leaseTtlMs) || this.leaseTtlMs < 1) {
      throw new RangeError(`leaseTtlMs must be a positive integer, got ${opts.leaseTtlMs}`);
    }
    this.acquireScript = defineScript(redis, 'heraldThrottleSemAcquire', 1, SEMAPHORE_ACQUIRE_LUA);
    this.acquireCappedScript = defineScript(
      redis,
      'heraldThrottleSemAcquireCapped',
      2,
      SEMAPHORE_ACQUIRE_LUA,
    );
    this.renewScript = defineScript(redis, 'heraldThrottleSemRenew', 1, SEMAPHORE_RENEW_LUA);
    this.releaseScript = defineScript(redis, 'heraldThrottleSemRelease', 1, SEMAPHORE_RELEASE_LUA);
    this.reclaimScript = defineScript(redis, 'heraldThrottleSemReclaim', 1, SEMAPHORE_RECLAIM_LUA);
    this.holder = opts.holder ?? DEFAULT_HOLDER;
  }

  /**
   * Removes, from every key matching `pattern` (a Redis glob after `<keyPrefix>:sem:`), the
   * leases that node `nodeId` held in incarnations other than this semaphore's holder (which must
   * be `<nodeId>|<incarnation>`): what a crashed predecessor left. Returns the keys (as passed to
   * acquire) with how many leases each lost. Call it once at start, before taking any lease.
   */
  async reclaim(pattern: string, nodeId: string): Promise<{ key: string; removed: number }[]> {
    const owner = `${nodeId}${NODE_SEPARATOR}`;
    if (!this.holder.startsWith(owner))
      throw new RangeError(`holder ${this.holder} is not an incarnation of node ${nodeId}`);
    const prefix = this.keyOf('');
    const out: { key: string; removed: number }[] = [];
    // On a cluster the keys (no hash tag) are spread over the masters: scanKeys visits each.
    for await (const keys of scanKeys(this.redis, `${prefix}${pattern}`, RECLAIM_SCAN_COUNT)) {
      for (const redisKey of keys) {
        const removed = (await this.reclaimScript(redisKey, owner, `${this.holder}:`)) as number;
        if (removed > 0) out.push({ key: redisKey.slice(prefix.length), removed });
      }
    }
    return out;
  }

  /** The Redis sorted set holding `key`'s leases. */
  keyOf(key: string): string {
    return semaphoreKey(this.opts.keyPrefix, key);
  }

  /** Leases of `key` in force now (for operators: `herald shaping explain`). Read-only. */
  async held(key: string): Promise<number> {
    const now = this.opts.now ? this.opts.now() : await redisNow(this.redis);
    return this.redis.zcount(this.keyOf(key), `(${now}`, '+inf');
  }

  /**
   * Takes one of `limit` slots of `key`, or says how long until the earliest lease expires.
   * `capKey` (a full Redis key in the same hash slot as `keyOf(key)`): while it holds a number,
   * its whole part (at least 1) lowers the limit, read in the same script (atomic with the take).
   */
  async acquire(key: string, limit: number, capKey?: string): Promise<Lease | Refused> {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    const id = `${this.holder}:${randomUUID()}`;
    const keys = capKey === undefined ? [this.keyOf(key)] : [this.keyOf(key), capKey];
    const script = capKey === undefined ? this.acquireScript : this.acquireCappedScript;
    const reply = (await script(...keys, id, limit, this.leaseTtlMs, clockArg(this.opts.now))) as
      | [1, string, number]
      | [0, number];
    if (reply[0] === 0) return { acquired: false, retryAfterMs: reply[1] };
    return this.lease(key, id, reply[2]);
  }

  private lease(key: string, id: string, firstExpiry: number): Lease {
    const redisKey = this.keyOf(key);
    const ttl = this.leaseTtlMs;
    let expiresAt = firstExpiry;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    };
    const renew = async (): Promise<boolean> => {
      const newExpiry = (await this.renewScript(redisKey, id, ttl, clockArg(this.opts.now))) as number;
      if (newExpiry > 0) expiresAt = newExpiry;
      return newExpiry > 0;
    };
    return {
      acquired: true,
      id,
      key,
      get expiresAt() {
        return expiresAt;
      },
      renew,
      release: async () => {
        stop();
        return (await this.releaseScript(redisKey, id)) === 1;
      },
      autoRenew: (onLost) => {
        if (timer) return;
        let inFlight = false;
        let lastRenewed = Date.now();
        timer = setInterval(
          () => {
            if (inFlight) return;
            inFlight = true;
            renew()
              .then((renewed) => {
                if (renewed) lastRenewed = Date.now();
                else if (timer) {
                  stop();
                  onLost?.('expired');
                }
              })
              .catch((err: unknown) => {
                if (timer && Date.now() - lastRenewed >= ttl) {
                  stop();
                  onLost?.('error', err);
                }
              })
              .finally(() => {
                inFlight = false;
              });
          },
          Math.max(1, Math.floor(ttl / RENEWALS_PER_TTL)),
        );
        timer.unref();
      },
    };
  }
}
