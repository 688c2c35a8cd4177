/**
 * Flagged accounts, durable in one Redis hash (`<prefix>:behaviour:flags`, account → JSON flag),
 * with a per-process copy intake reads without a round trip: `refresh` (HGETALL) runs every
 * FLAG_CACHE_REFRESH_MS, and this process's own flag / unflag update it at once; an unflag also
 * records its time (`clearedAt`: the counts before it are not judged again). `flag` is HSETNX:
 * of several relays judging one account, one flags it (and emits the event). Needs injected: a client.
 */
import { behaviourClearedKey, behaviourFlagsKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import type { BehaviourRule } from './rules.js';

/** How stale this process's copy of the flags may be (another relay's flag, an operator's unflag). */
export const FLAG_CACHE_REFRESH_MS = 1_000;

export interface AccountFlag {
  account: string;
  tenant: string;
  rule: BehaviourRule;
  reason: string;
  figures: Record<string, number>;
  /** Epoch ms. */
  since: number;
}

export class FlagStore {
  private readonly key: string;
  private readonly clearedKey: string;
  private cache = new Map<string, AccountFlag>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = behaviourFlagsKey(prefix);
    this.clearedKey = behaviourClearedKey(prefix);
  }

  /** When the account was last unflagged (epoch ms), or undefined. */
  async clearedAt(account: string): Promise<number | undefined> {
    const value = await this.redis.hget(this.clearedKey, account);
    return value ? Number(value) : undefined;
  }

  /** The cached flag (no I/O). */
  cached(account: string): AccountFlag | undefined {
    return this.cache.size === 0 ? undefined : this.cache.get(account);
  }

  async refresh(): Promise<void> {
    const all = await this.redis.hgetall(this.key);
    const next = new Map<string, AccountFlag>();
    for (const [account, json] of Object.entries(all)) next.set(account, parseFlag(account, json));
    this.cache = next;
  }

  async list(): Promise<AccountFlag[]> {
    await this.refresh();
    return [...this.cache.values()].sort((a, b) => a.since - b.since);
  }

  async read(account: string): Promise<AccountFlag | undefined> {
    const json = await this.redis.hget(this.key, account);
    return json ? parseFlag(account, json) : undefined;
  }

  /** True when this call flagged the account (it was not flagged). */
  async flag(flag: AccountFlag): Promise<boolean> {
    const set = await this.redis.hsetnx(this.key, flag.account, JSON.stringify(flag));
    if (set === 1) this.cache.set(flag.account, flag);
    return set === 1;
  }

  /** The flag removed, or undefined when the account was not flagged. */
  async unflag(account: string, now: number): Promise<AccountFlag | undefined> {
    const json = await this.redis.hget(this.key, account);
    if (!json || (await this.redis.hdel(this.key, account)) === 0) return undefined;
    await this.redis.hset(this.clearedKey, account, String(now));
    this.cache.delete(account);
    return parseFlag(account, json);
  }
}

function parseFlag(account: string, json: string): AccountFlag {
  try {
    return { ...(JSON.parse(json) as AccountFlag), account };
  } catch {
    return { account, tenant: '', rule: 'volume_spike', reason: 'flagged', figures: {}, since: 0 };
  }
}
