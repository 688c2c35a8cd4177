/**
 * Held messages in Redis (keys/quarantine.ts): each in its queue shard's slot, the slot of its
 * event stream and trace. `hold` writes the record, both indexes and — given `alsoWrite` — the
 * message's events in one MULTI, so a held message never lacks its `accepted` event, and with a
 * durability barrier (`redis.durability: strict`) resolves only once that write is on disk or on
 * a replica, as a spooled message's enqueue does (its 250 / 202 waits for it; a barrier that
 * fails rejects with HERALD_REDIS_UNAVAILABLE, the record staying held); `claim`
 * reads a message whole and takes it out of the indexes (claims.ts: exactly one caller wins, so a
 * message is released or deleted once, and the claim is recorded; a claim cut short puts it
 * back); a release's enqueue deletes the record and ends the claim in its own transaction
 * (`releasedFrom`), so "queued" and "record gone" are one fact; `settleFailedRelease` reads that
 * fact after an enqueue that failed (its reply may have been lost) and puts a message that was not
 * queued back in the indexes, riding a Redis outage for up to SETTLE_WINDOW_MS, so a release cut
 * by an outage leaves the message held, never lost (and a claim left behind even so is put back
 * by the sweep, claims.ts); `markDeleting` then `drop` delete a claimed record. Listing reads every
 * shard's index (merged by time) and the records' envelope fields, never the bodies.
 */

import type { ChainableCommander } from 'ioredis';
import type { MessageDsn } from '../dsn/index.js';
import { type QuarantineKeys, quarantineKeys } from '../keys/index.js';
import {
  allShards,
  type DurabilityBarrier,
  type ReleasedFrom,
  type ShardLayout,
  SINGLE_SHARD,
  shardOf,
} from '../queue/index.js';
import { type RedisClient, rideOutage } from '../redis/index.js';
import { claimHeld, DELETING_FIELD, recoverClaims } from './claims.js';

/** How long a failed release keeps trying to learn its outcome and put the message back. */
export const SETTLE_WINDOW_MS = 30_000;

/** One held message as stored. */
export interface HeldMessage {
  id: string;
  tenant: string;
  from: string;
  recipients: string[];
  /** The message as it would have been spooled (before List-Unsubscribe and DKIM). */
  body: Buffer;
  /** `spam` (the content scan) or `behaviour:<rule>` (a flagged account). */
  reason: string;
  score?: number | undefined;
  symbols?: string[] | undefined;
  /** The flagged account, when a behaviour rule held it. */
  account?: string | undefined;
  /** Epoch ms: when it was accepted and held. */
  heldAt: number;
  source: 'smtp' | 'api';
  client?: string | undefined;
  stream?: string | undefined;
  campaign?: string | undefined;
  /** The sender's RFC 3461 request (NOTIFY, ORCPT, RET, ENVID), kept for the release. */
  dsn?: MessageDsn | undefined;
  /** Submitted with SMTPUTF8 (RFC 6531), kept for the release. */
  smtputf8?: boolean | undefined;
}

/** A held message without its body, for listings. */
export type HeldSummary = Omit<HeldMessage, 'body'> & { size: number };

/** Envelope fields a listing reads (everything but the body). */
const SUMMARY_FIELDS = [
  'tenant',
  'from',
  'recipients',
  'reason',
  'score',
  'symbols',
  'account',
  'heldAt',
  'source',
  'client',
  'stream',
  'campaign',
  'size',
] as const;

export class QuarantineStore {
  private readonly shards: { readonly layout: ShardLayout };

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    shards?: { readonly layout: ShardLayout },
    /** Strict durability: `hold` waits for it after its EXEC (absent: fast, nothing to wait for). */
    private readonly barrier?: Pick<DurabilityBarrier, 'afterCommit'>,
  ) {
    this.shards = shards ?? { layout: SINGLE_SHARD };
  }

  /** The keys of the shard message `id` is in. */
  private keysOf(id: string): QuarantineKeys {
    return quarantineKeys(this.prefix, shardOf(id, this.shards.layout));
  }

  private everyShard(): QuarantineKeys[] {
    return allShards(this.shards.layout).map((shard) => quarantineKeys(this.prefix, shard));
  }

  /**
   * Writes the held message and its indexes in one MULTI; `alsoWrite` queues more commands in it
   * (the message's events: its shard's slot). Resolves once the write is durable (the barrier).
   */
  async hold(message: HeldMessage, alsoWrite?: (multi: ChainableCommander) => void): Promise<void> {
    const fields: Record<string, string | Buffer> = {
      tenant: message.tenant,
      from: message.from,
      recipients: JSON.stringify(message.recipients),
      body: message.body,
      size: String(message.body.length),
      reason: message.reason,
      heldAt: String(message.heldAt),
      source: message.source,
    };
    if (message.score !== undefined) fields.score = String(message.score);
    if (message.symbols?.length) fields.symbols = JSON.stringify(message.symbols);
    if (message.account) fields.account = message.account;
    if (message.client) fields.client = message.client;
    if (message.stream) fields.stream = message.stream;
    if (message.campaign) fields.campaign = message.campaign;
    if (message.dsn) fields.dsn = JSON.stringify(message.dsn);
    if (message.smtputf8) fields.smtputf8 = '1';
    const keys = this.keysOf(message.id);
    const multi = this.redis
      .multi()
      .hset(keys.message(message.id), fields)
      .zadd(keys.index, message.heldAt, message.id)
      .zadd(keys.tenant(message.tenant), message.heldAt, message.id);
    alsoWrite?.(multi);
    const result = await multi.exec();
    const failed = result?.find(([err]) => err);
    if (!result || failed) throw failed?.[0] ?? new Error('quarantine hold: transaction aborted');
    // Strict durability: the hold is acknowledged (250 / 202) only once it survives a crash.
    await this.barrier?.afterCommit([keys.message(message.id)]);
  }

  /** Held ids, oldest first (ties by id), with their hold times: every tenant's, or one tenant's. */
  async ids(opts: { tenant?: string | undefined; offset?: number; limit: number; heldBefore?: number }) {
    const max = opts.heldBefore === undefined ? '+inf' : `(${opts.heldBefore}`;
    const offset = opts.offset ?? 0;
    // Each shard's first offset+limit, merged: the page of the whole.
    const perShard = await Promise.all(
      this.everyShard().map(async (keys) => {
        const key = opts.tenant === undefined ? keys.index : keys.tenant(opts.tenant);
        const flat = await this.redis.zrangebyscore(
          key,
          '-inf',
          max,
          'WITHSCORES',
          'LIMIT',
          0,
          offset + opts.limit,
        );
        const out: { id: string; heldAt: number }[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2)
          out.push({ id: flat[i] as string, heldAt: Number(flat[i + 1]) });
        return out;
      }),
    );
    return perShard
      .flat()
      .sort((a, b) => a.heldAt - b.heldAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(offset, offset + opts.limit);
  }

  async count(tenant?: string): Promise<number> {
    const counts = await Promise.all(
      this.everyShard().map((keys) =>
        this.redis.zcard(tenant === undefined ? keys.index : keys.tenant(tenant)),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async summary(id: string): Promise<HeldSummary | undefined> {
    const values = await this.redis.hmget(this.keysOf(id).message(id), ...SUMMARY_FIELDS);
    const record = Object.fromEntries(SUMMARY_FIELDS.map((f, i) => [f, values[i] ?? undefined]));
    if (record.tenant === undefined) return undefined;
    return summaryOf(id, record);
  }

  /** The whole record, body included, without claiming it. */
  async read(id: string): Promise<HeldMessage | undefined> {
    const raw = await this.redis.hgetallBuffer(this.keysOf(id).message(id));
    if (!raw.tenant) return undefined;
    const text = Object.fromEntries(
      Object.entries(raw).map(([k, v]) => [k, k === 'body' ? undefined : v.toString('utf8')]),
    );
    const { size: _size, ...summary } = summaryOf(id, text);
    return {
      ...summary,
      body: raw.body ?? Buffer.alloc(0),
      ...(text.dsn ? { dsn: JSON.parse(text.dsn) as MessageDsn } : {}),
      ...(text.smtputf8 === '1' ? { smtputf8: true } : {}),
    };
  }

  /**
   * Takes `id` out of the indexes and answers its record; undefined when it is not (or no longer)
   * held. The record is read first, so once the ZREM wins nothing but the tenant index's ZREM is
   * left to fail; should it, the message is put back (held) and the error thrown.
   */
  async claim(id: string, now = Date.now()): Promise<HeldMessage | undefined> {
    const keys = this.keysOf(id);
    const message = await this.read(id);
    if (!message || !(await claimHeld(this.redis, keys, id, now))) return undefined;
    try {
      await this.redis.zrem(keys.tenant(message.tenant), id);
    } catch (err) {
      await this.unclaim(message);
      throw err;
    }
    return message;
  }

  /** What a release's enqueue clears in its transaction: the record and the claim. */
  releasedFrom(id: string): ReleasedFrom {
    const keys = this.keysOf(id);
    return { record: keys.message(id), claims: keys.claims };
  }

  /**
   * After a release whose enqueue failed: `queued` when its transaction ran after all (the record
   * is gone: the reply was lost), else `held` once the message is back in the indexes.
   */
  async settleFailedRelease(message: HeldMessage): Promise<'queued' | 'held'> {
    const exists = await rideOutage(() => this.redis.exists(this.keysOf(message.id).message(message.id)), {
      windowMs: SETTLE_WINDOW_MS,
    });
    if (exists === 0) return 'queued';
    await this.unclaim(message);
    return 'held';
  }

  /** Puts a claimed message back in the indexes (its release failed), riding a Redis outage. */
  async unclaim(message: HeldMessage): Promise<void> {
    const keys = this.keysOf(message.id);
    const putBack = async () => {
      const results = await this.redis
        .multi()
        .zadd(keys.index, message.heldAt, message.id)
        .zadd(keys.tenant(message.tenant), message.heldAt, message.id)
        .zrem(keys.claims, message.id)
        .exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('quarantine put back: transaction aborted');
    };
    await rideOutage(putBack, { windowMs: SETTLE_WINDOW_MS });
  }

  /** Marks a claimed record as being deleted (before its events): a left claim is then dropped, not held again. */
  async markDeleting(id: string): Promise<void> {
    await this.redis.hset(this.keysOf(id).message(id), DELETING_FIELD, '1');
  }

  /** Deletes a claimed message's record and ends its claim. */
  async drop(id: string): Promise<void> {
    const keys = this.keysOf(id);
    await this.redis.multi().del(keys.message(id)).zrem(keys.claims, id).exec();
  }

  /** Settles every shard's claims left behind (claims.ts); how many messages are held again. */
  async recoverClaims(now: number): Promise<number> {
    const counts = await Promise.all(this.everyShard().map((keys) => recoverClaims(this.redis, keys, now)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The sweep's lease for one interval: true for the one relay that takes it. */
  async takeSweepLease(ttlMs: number, token: string): Promise<boolean> {
    return (await this.redis.set(quarantineKeys(this.prefix).sweepLease, token, 'PX', ttlMs, 'NX')) === 'OK';
  }
}

function summaryOf(id: string, r: Record<string, string | undefined>): HeldSummary {
  const source = r.source === 'api' ? 'api' : 'smtp';
  return {
    id,
    tenant: r.tenant ?? '',
    from: r.from ?? '',
    recipients: r.recipients ? (JSON.parse(r.recipients) as string[]) : [],
    reason: r.reason ?? '',
    ...(r.score !== undefined ? { score: Number(r.score) } : {}),
    ...(r.symbols ? { symbols: JSON.parse(r.symbols) as string[] } : {}),
    ...(r.account ? { account: r.account } : {}),
    heldAt: Number(r.heldAt ?? 0),
    source,
    ...(r.client ? { client: r.client } : {}),
    ...(r.stream ? { stream: r.stream } : {}),
    ...(r.campaign ? { campaign: r.campaign } : {}),
    size: Number(r.size ?? 0),
  };
}
