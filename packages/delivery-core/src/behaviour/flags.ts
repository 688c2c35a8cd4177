/**
 * Flagged accounts, durable in one Redis hash (`<prefix>:behaviour:flags`, account → JSON flag),
 * and what each has held in quarantine in its flag episode (`<prefix>:behaviour:held`: messages
 * and bytes per account), with a per-process copy of both that intake reads without a round trip:
 * `refresh` (the two HGETALLs sent together: one round trip) runs every FLAG_CACHE_REFRESH_MS,
 * and this process's own flag / unflag / `countHeld` update it at once. An unflag also records its
 * time (`clearedAt`: the counts before it are not judged again). `flag` is HSETNX: of several
 * relays judging one account, one flags it (and emits the event); a flag and an unflag each clear
 * the account's held counts (HDEL), so every episode starts at zero — a hold still in flight on a
 * relay whose copy was stale at the unflag counts into the old episode and is cleared by the next
 * flag. Needs injected: a client.
 */
import {
  behaviourClearedKey,
  behaviourFlagsKey,
  behaviourHeldFields,
  behaviourHeldKey,
} from '../keys/index.js';
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

/** What a flagged account has held in quarantine in its current flag episode. */
export interface HeldTally {
  messages: number;
  /** Bytes of the held bodies. */
  bytes: number;
}

const NOTHING_HELD: HeldTally = Object.freeze({ messages: 0, bytes: 0 });

export class FlagStore {
  private readonly key: string;
  private readonly clearedKey: string;
  private readonly heldKey: string;
  private cache = new Map<string, AccountFlag>();
  private heldCache = new Map<string, HeldTally>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = behaviourFlagsKey(prefix);
    this.clearedKey = behaviourClearedKey(prefix);
    this.heldKey = behaviourHeldKey(prefix);
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

  /** The account's held tally as this process last read or counted it (no I/O). */
  cachedHeld(account: string): HeldTally {
    return this.heldCache.get(account) ?? NOTHING_HELD;
  }

  async refresh(): Promise<void> {
    // Sent together (auto-pipelined: one round trip to one server; on a cluster each key's master
    // answers in parallel — the two keys are used alone, so they need not share a slot).
    const [all, held] = await Promise.all([this.redis.hgetall(this.key), this.redis.hgetall(this.heldKey)]);
    const next = new Map<string, AccountFlag>();
    for (const [account, json] of Object.entries(all)) next.set(account, parseFlag(account, json));
    this.cache = next;
    this.heldCache = parseHeld(held);
  }

  /** The account's held tally read now. */
  async readHeld(account: string): Promise<HeldTally> {
    const fields = behaviourHeldFields(account);
    const [messages, bytes] = await this.redis.hmget(this.heldKey, fields.messages, fields.bytes);
    return { messages: Number(messages ?? 0), bytes: Number(bytes ?? 0) };
  }

  /** Counts one held message of `bytes` for the account (one MULTI on the held hash); its new tally. */
  async countHeld(account: string, bytes: number): Promise<HeldTally> {
    const fields = behaviourHeldFields(account);
    const result = await this.redis
      .multi()
      .hincrby(this.heldKey, fields.messages, 1)
      .hincrby(this.heldKey, fields.bytes, bytes)
      .exec();
    const failed = result?.find(([err]) => err);
    if (!result || failed) throw failed?.[0] ?? new Error('behaviour held count: transaction aborted');
    const tally = { messages: Number(result[0]?.[1]), bytes: Number(result[1]?.[1]) };
    this.heldCache.set(account, tally);
    return tally;
  }

  /** Clears the account's held tally (a new flag episode, or none). */
  private async clearHeld(account: string): Promise<void> {
    const fields = behaviourHeldFields(account);
    await this.redis.hdel(this.heldKey, fields.messages, fields.bytes);
    this.heldCache.delete(account);
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
    if (set !== 1) return false;
    // Counts left by holds in flight at the last unflag belong to no episode.
    await this.clearHeld(flag.account);
    this.cache.set(flag.account, flag);
    return true;
  }

  /** The flag removed, or undefined when the account was not flagged. */
  async unflag(account: string, now: number): Promise<AccountFlag | undefined> {
    const json = await this.redis.hget(this.key, account);
    if (!json || (await this.redis.hdel(this.key, account)) === 0) return undefined;
    await this.redis.hset(this.clearedKey, account, String(now));
    this.cache.delete(account);
    await this.clearHeld(account);
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

/** `<account>:n` / `<account>:bytes` fields → tallies (split at the last colon: names may have colons). */
function parseHeld(fields: Record<string, string>): Map<string, HeldTally> {
  const tallies = new Map<string, HeldTally>();
  for (const [field, value] of Object.entries(fields)) {
    const colon = field.lastIndexOf(':');
    const account = field.slice(0, colon);
    const kind = field.slice(colon + 1);
    if (colon <= 0 || (kind !== 'n' && kind !== 'bytes')) continue;
    const tally = tallies.get(account) ?? { messages: 0, bytes: 0 };
    if (kind === 'n') tally.messages = Number(value);
    else tally.bytes = Number(value);
    tallies.set(account, tally);
  }
  return tallies;
}
