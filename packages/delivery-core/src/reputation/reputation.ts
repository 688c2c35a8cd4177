/**
 * Tenant reputation: rolling hard-bounce and complaint rates per tenant (hard bounces or
 * complaints / accepted recipients over `reputation_window`, from the hourly counters in
 * counters.ts), judged once the window holds `reputation_min_volume` recipients. Over a
 * threshold, the tenant's bulk mail pauses: every stream but transactional waits (the shaping gate
 * parks it) until an operator resumes it (`herald tenant resume`). Each pause and resume is an
 * event. State: `<prefix>:tenant:<tenant>:paused` (JSON {reason, at}); no expiry. `countOnce` counts
 * under a caller's once-marker (one Lua script), so a repeated report counts once. Counters live
 * per queue shard (the enqueue counts `sent` in its shard's MULTI; a once-marker pairs with the
 * counter of its message's shard); `rates` sums every shard (one MGET each).
 * Needs injected: an ioredis client, the event sink, a clock, the shard layout.
 */

import type { TenantPolicy } from '../config/index.js';
import type { EventSink } from '../events/index.js';
import { reputationKey, tenantPausedKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { REPUTATION_BUCKET_TTL_MS, type ReputationKind, reputationBucket, windowKeys } from './counters.js';

/**
 * KEYS[1] a once-marker, KEYS[2] the counter bucket. ARGV[1] marker TTL (ms), ARGV[2] n (>= 0),
 * ARGV[3] counter TTL (ms). Sets the marker when absent (SET NX PX) and only then adds n to the
 * counter and sets its expiry. Returns 1 when the marker was set (counted), 0 when it existed.
 */
export const COUNT_ONCE_LUA = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then
  redis.call('INCRBY', KEYS[2], n)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
`;

type CountOnceScript = (marker: string, counter: string, ...argv: (string | number)[]) => Promise<number>;

/** How long a tenant's paused flag read from Redis is reused in this process. */
const PAUSED_CACHE_MS = 1_000;
const PAUSED_CACHE_MAX_TENANTS = 10_000;

export interface ReputationRates {
  sent: number;
  hard: number;
  complaints: number;
  bounceRate: number;
  complaintRate: number;
}

export interface PauseState {
  reason: string;
  at: number;
}

/** A tenant's reputation as an operator reads it (`herald.tenantStatus`, `herald tenant status`). */
export interface TenantStatus {
  tenant: string;
  /** Its window, minimum volume and thresholds (herald.yaml `tenants`, else the defaults). */
  policy: Readonly<TenantPolicy>;
  /** Accepted recipients, hard bounces, complaints and their rates over `policy.reputation_window`. */
  rates: ReputationRates;
  /** Its bulk pause, read now (not cached); absent while its bulk mail is sending. */
  paused?: PauseState;
}

export class TenantReputation {
  private readonly pausedCache = new Map<string, { at: number; value: PauseState | undefined }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly events: EventSink,
    private readonly now: () => number = Date.now,
    /** The queue's shards (a ShardRegistry); absent: one. */
    private readonly shards: { readonly layout: { readonly max: number } } = { layout: { max: 1 } },
  ) {
    redis.defineCommand('heraldCountOnce', { numberOfKeys: 2, lua: COUNT_ONCE_LUA });
  }

  private pausedKey(tenant: string): string {
    return tenantPausedKey(this.prefix, tenant);
  }

  /** Adds n to the tenant's counter of `kind` in the current hour (in queue shard `shard`). */
  async count(tenant: string, kind: ReputationKind, n: number, shard = 0): Promise<void> {
    if (n <= 0) return;
    const key = reputationKey(this.prefix, tenant, kind, reputationBucket(this.now()), shard);
    await this.redis.multi().incrby(key, n).pexpire(key, REPUTATION_BUCKET_TTL_MS).exec();
  }

  /**
   * Adds n (may be 0) to the tenant's counter of `kind` only if `once.key` is not set yet, and sets
   * it for `once.ttlMs`, atomically: a report re-sent any number of times counts once. True when
   * this call set the marker. `once.shard`: the queue shard of the marker (its message's), where
   * the counter is too.
   */
  async countOnce(
    tenant: string,
    kind: ReputationKind,
    n: number,
    once: { key: string; ttlMs: number; shard?: number },
  ): Promise<boolean> {
    const counter = reputationKey(this.prefix, tenant, kind, reputationBucket(this.now()), once.shard ?? 0);
    const script = (this.redis as unknown as { heraldCountOnce: CountOnceScript }).heraldCountOnce;
    const set = await script.call(
      this.redis,
      once.key,
      counter,
      Math.max(1, Math.ceil(once.ttlMs)),
      Math.max(0, Math.floor(n)),
      REPUTATION_BUCKET_TTL_MS,
    );
    return set === 1;
  }

  async rates(tenant: string, windowMs: number): Promise<ReputationRates> {
    const now = this.now();
    const kinds: ReputationKind[] = ['sent', 'hard', 'complaint'];
    const sums = [0, 0, 0];
    const shards = Array.from({ length: this.shards.layout.max }, (_, i) => i);
    // One MGET per shard (its keys share the shard's slot), summed.
    await Promise.all(
      shards.map(async (shard) => {
        const keys = kinds.map((kind) => windowKeys(this.prefix, tenant, kind, now, windowMs, shard));
        const values = await this.redis.mget(...keys.flat());
        keys.forEach((group, k) => {
          for (const v of values.slice(k * group.length, (k + 1) * group.length)) sums[k]! += Number(v ?? 0);
        });
      }),
    );
    const [sent, hard, complaints] = sums as [number, number, number];
    return {
      sent,
      hard,
      complaints,
      bounceRate: sent > 0 ? hard / sent : 0,
      complaintRate: sent > 0 ? complaints / sent : 0,
    };
  }

  /** The tenant's rates over its window and its pause, read now. */
  async status(tenant: string, policy: Readonly<TenantPolicy>): Promise<TenantStatus> {
    const [rates, paused] = await Promise.all([
      this.rates(tenant, policy.reputation_window),
      this.paused(tenant, { fresh: true }),
    ]);
    return { tenant, policy, rates, ...(paused ? { paused } : {}) };
  }

  /** Pauses the tenant's bulk mail when a rate is over its threshold; returns the pause, if any. */
  async evaluate(tenant: string, policy: Readonly<TenantPolicy>): Promise<PauseState | undefined> {
    const r = await this.rates(tenant, policy.reputation_window);
    if (r.sent < policy.reputation_min_volume) return undefined;
    const over =
      r.complaintRate > policy.complaint_rate_threshold
        ? `complaint rate ${percent(r.complaintRate)} over ${percent(policy.complaint_rate_threshold)}`
        : r.bounceRate > policy.bounce_rate_threshold
          ? `hard bounce rate ${percent(r.bounceRate)} over ${percent(policy.bounce_rate_threshold)}`
          : undefined;
    if (!over) return undefined;
    const reason = `${over} (${r.sent} recipients in the window)`;
    return (await this.pause(tenant, reason)) ?? (await this.paused(tenant, { fresh: true }));
  }

  /** Pauses the tenant's bulk mail; undefined when it was already paused (no second event). */
  async pause(tenant: string, reason: string): Promise<PauseState | undefined> {
    const state: PauseState = { reason, at: this.now() };
    const set = await this.redis.set(this.pausedKey(tenant), JSON.stringify(state), 'NX');
    this.pausedCache.delete(tenant.toLowerCase());
    if (set !== 'OK') return undefined;
    this.events.emit({ type: 'tenant_paused', time: state.at, tenant, reason });
    return state;
  }

  /** Lifts a pause; true when there was one. */
  async resume(tenant: string, reason: string): Promise<boolean> {
    const removed = await this.redis.del(this.pausedKey(tenant));
    this.pausedCache.delete(tenant.toLowerCase());
    if (removed > 0) this.events.emit({ type: 'tenant_resumed', time: this.now(), tenant, reason });
    return removed > 0;
  }

  /** The tenant's pause, read at most once per PAUSED_CACHE_MS per process unless `fresh`. */
  async paused(tenant: string, opts: { fresh?: boolean } = {}): Promise<PauseState | undefined> {
    const name = tenant.toLowerCase();
    const now = this.now();
    const cached = this.pausedCache.get(name);
    if (!opts.fresh && cached && now - cached.at < PAUSED_CACHE_MS) return cached.value;
    const raw = await this.redis.get(this.pausedKey(name));
    let value: PauseState | undefined;
    try {
      value = raw ? (JSON.parse(raw) as PauseState) : undefined;
    } catch {
      value = { reason: 'paused', at: 0 };
    }
    if (this.pausedCache.size >= PAUSED_CACHE_MAX_TENANTS) this.pausedCache.clear();
    this.pausedCache.set(name, { at: now, value });
    return value;
  }
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(2)} %`;
}
