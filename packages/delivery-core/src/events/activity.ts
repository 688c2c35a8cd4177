/**
 * Activity counters: what the dashboard's overview, bounces and sites pages show, kept in Redis
 * per UTC minute instead of read back from the event stream, so a page polled every few seconds
 * costs a few HGETALLs whatever the traffic, and every relay's events add up. Written by whoever
 * writes an event to the stream, in the same pipeline or MULTI (the relay's delivery threads
 * write their own events, so each event is counted once): per batch, one HINCRBY per distinct
 * (minute, field) and one PEXPIRE per key touched, never per event.
 * Counted: recipients accepted (the accepted event's recipients), delivered, deferred, bounced,
 * expired; bounced by the bounce classifier's reason (`operator_delete` / `operator_bounce` for an
 * operator's); bounced by destination domain and reason; delivered / deferred / bounced per site.
 * Each site also keeps its last SITE_REPLIES_KEPT 4xx/5xx replies (a capped list; identical
 * replies of one batch pushed once). Keys: keys/queue.ts `ActivityKeys`, in the event's shard;
 * they expire ACTIVITY_RETENTION_MS after their minute (replies SITE_REPLIES_RETENTION_MS after
 * the last). Reading sums every shard's keys. Needs injected: the Redis client, the shards' keys.
 */
import type { ChainableCommander } from 'ioredis';
import { retryView } from '../bounce/index.js';
import type { ActivityKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import type { HeraldEvent } from './types.js';

export const ACTIVITY_MINUTE_MS = 60_000;
/** How far back the per-minute counters reach: two hours (each key expires that long after its minute ends). */
export const ACTIVITY_RETENTION_MS = 2 * 60 * ACTIVITY_MINUTE_MS;
/** Replies kept per site (and shard), newest first. */
export const SITE_REPLIES_KEPT = 20;
/** A site's reply list expires this long after its last push. */
export const SITE_REPLIES_RETENTION_MS = 24 * 60 * ACTIVITY_MINUTE_MS;
/** A reply's text is kept up to this many characters. */
const REPLY_TEXT_MAX_CHARS = 200;

export const ACTIVITY_OUTCOMES = ['accepted', 'delivered', 'deferred', 'bounced', 'expired'] as const;
export type ActivityOutcome = (typeof ACTIVITY_OUTCOMES)[number];
export const SITE_OUTCOMES = ['delivered', 'deferred', 'bounced'] as const;
export type SiteOutcome = (typeof SITE_OUTCOMES)[number];

const REASON_FIELD = 'reason:';

/** The start of `time`'s minute (epoch ms). */
export const minuteOf = (time: number) => Math.floor(time / ACTIVITY_MINUTE_MS) * ACTIVITY_MINUTE_MS;

/** A reply as the sites page lists it. */
export interface SiteReply {
  time: number;
  outcome: 'deferred' | 'bounced';
  code: number;
  enhanced?: string;
  text: string;
}

/** The counts of one batch of events, queued as one HINCRBY per distinct (key, field). */
export class ActivityTally {
  private readonly counts = new Map<string, Map<string, number>>();
  /** Per site's reply list: distinct reply → its newest JSON. */
  private readonly replies = new Map<string, Map<string, string>>();

  constructor(private readonly keys: ActivityKeys) {}

  /** Counts `recipients` accepted at `time` (the spool's enqueue MULTI). */
  accepted(time: number, recipients: number): void {
    this.count(this.keys.minute(minuteOf(time)), 'accepted', recipients);
  }

  add(event: HeraldEvent): void {
    if (event.type === 'accepted') {
      this.accepted(event.time, event.recipients.length);
      return;
    }
    if (
      event.type !== 'delivered' &&
      event.type !== 'deferred' &&
      event.type !== 'bounced' &&
      event.type !== 'expired'
    )
      return;
    const minute = minuteOf(event.time);
    this.count(this.keys.minute(minute), event.type, 1);
    if (event.type === 'bounced') {
      const reason = event.operator ? `operator_${event.operator}` : retryView(event.reply).reason;
      this.count(this.keys.minute(minute), `${REASON_FIELD}${reason}`, 1);
      this.count(this.keys.bounces(minute), `${event.domain} ${reason}`, 1);
    }
    if (!event.site || event.type === 'expired') return;
    this.count(this.keys.sites(minute), `${event.type}:${event.site}`, 1);
    if (event.type === 'delivered' || event.operator) return;
    const { code, enhanced, text } = event.reply;
    const kept = text.slice(0, REPLY_TEXT_MAX_CHARS);
    const reply: SiteReply = {
      time: event.time,
      outcome: event.type,
      code,
      ...(enhanced ? { enhanced } : {}),
      text: kept,
    };
    const key = this.keys.siteReplies(event.site);
    const list = this.replies.get(key) ?? new Map<string, string>();
    const distinct = `${code} ${enhanced ?? ''} ${kept}`;
    list.delete(distinct);
    list.set(distinct, JSON.stringify(reply));
    this.replies.set(key, list);
  }

  /** Queues the batch's writes on `commands`; returns how many commands were queued. */
  queue(commands: ChainableCommander): number {
    let queued = 0;
    for (const [key, fields] of this.counts) {
      for (const [field, n] of fields) commands.hincrby(key, field, n);
      // The key's minute is in its name; it lives ACTIVITY_RETENTION_MS past that minute's end.
      commands.pexpire(key, ACTIVITY_RETENTION_MS + ACTIVITY_MINUTE_MS);
      queued += fields.size + 1;
    }
    for (const [key, list] of this.replies) {
      // Oldest first, so the newest ends at the head.
      commands.lpush(key, ...list.values());
      commands.ltrim(key, 0, SITE_REPLIES_KEPT - 1);
      commands.pexpire(key, SITE_REPLIES_RETENTION_MS);
      queued += 3;
    }
    return queued;
  }

  private count(key: string, field: string, n: number): void {
    const fields = this.counts.get(key) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + n);
    this.counts.set(key, fields);
  }
}

/** One minute summed over the shards. */
export interface ActivityMinute extends Record<ActivityOutcome, number> {
  minute: number;
  /** Bounced recipients by reason. */
  reasons: Record<string, number>;
}

/** Reads hashes of several shards, one pipeline per shard (a cluster pipeline keeps to one slot). */
async function readHashes(
  redis: RedisClient,
  perShard: readonly string[][],
): Promise<Record<string, string>[][]> {
  return Promise.all(
    perShard.map(async (keys) => {
      if (keys.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hgetall(key);
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, value]) => {
        if (err) throw err;
        return (value ?? {}) as Record<string, string>;
      });
    }),
  );
}

const minutesBetween = (from: number, to: number) => {
  const out: number[] = [];
  for (let m = minuteOf(from); m <= to; m += ACTIVITY_MINUTE_MS) out.push(m);
  return out;
};

/** Every minute from `fromMs`'s to `toMs`'s (zeros included), summed over the shards. */
export async function readActivityMinutes(
  redis: RedisClient,
  shards: readonly ActivityKeys[],
  fromMs: number,
  toMs: number,
): Promise<ActivityMinute[]> {
  const minutes = minutesBetween(fromMs, toMs);
  const hashes = await readHashes(
    redis,
    shards.map((keys) => minutes.map((m) => keys.minute(m))),
  );
  return minutes.map((minute, i) => {
    const sum: ActivityMinute = {
      minute,
      accepted: 0,
      delivered: 0,
      deferred: 0,
      bounced: 0,
      expired: 0,
      reasons: {},
    };
    for (const shard of hashes)
      for (const [field, value] of Object.entries(shard[i] ?? {})) {
        const n = Number(value);
        if (field.startsWith(REASON_FIELD)) {
          const reason = field.slice(REASON_FIELD.length);
          sum.reasons[reason] = (sum.reasons[reason] ?? 0) + n;
        } else if ((ACTIVITY_OUTCOMES as readonly string[]).includes(field))
          sum[field as ActivityOutcome] += n;
      }
    return sum;
  });
}

/** Bounced recipients per destination domain and reason over the minutes, summed over the shards. */
export async function readBouncesByDomain(
  redis: RedisClient,
  shards: readonly ActivityKeys[],
  fromMs: number,
  toMs: number,
): Promise<Map<string, Map<string, number>>> {
  const minutes = minutesBetween(fromMs, toMs);
  const hashes = await readHashes(
    redis,
    shards.map((keys) => minutes.map((m) => keys.bounces(m))),
  );
  const byDomain = new Map<string, Map<string, number>>();
  for (const shard of hashes)
    for (const hash of shard)
      for (const [field, value] of Object.entries(hash)) {
        const cut = field.lastIndexOf(' ');
        const domain = field.slice(0, cut);
        const reason = field.slice(cut + 1);
        const counts = byDomain.get(domain) ?? new Map<string, number>();
        counts.set(reason, (counts.get(reason) ?? 0) + Number(value));
        byDomain.set(domain, counts);
      }
  return byDomain;
}

/** Recipients delivered / deferred / bounced per site over the minutes, summed over the shards. */
export async function readSiteOutcomes(
  redis: RedisClient,
  shards: readonly ActivityKeys[],
  fromMs: number,
  toMs: number,
): Promise<Map<string, Record<SiteOutcome, number>>> {
  const minutes = minutesBetween(fromMs, toMs);
  const hashes = await readHashes(
    redis,
    shards.map((keys) => minutes.map((m) => keys.sites(m))),
  );
  const bySite = new Map<string, Record<SiteOutcome, number>>();
  for (const shard of hashes)
    for (const hash of shard)
      for (const [field, value] of Object.entries(hash)) {
        const cut = field.indexOf(':');
        const outcome = field.slice(0, cut) as SiteOutcome;
        if (!(SITE_OUTCOMES as readonly string[]).includes(outcome)) continue;
        const site = field.slice(cut + 1);
        const counts = bySite.get(site) ?? { delivered: 0, deferred: 0, bounced: 0 };
        counts[outcome] += Number(value);
        bySite.set(site, counts);
      }
  return bySite;
}

/**
 * The latest distinct replies of each site (newest first, at most `limit`), merged over the
 * shards' lists; a reply seen again counts once, at its newest time.
 */
export async function readSiteReplies(
  redis: RedisClient,
  shards: readonly ActivityKeys[],
  sites: readonly string[],
  limit: number,
): Promise<Map<string, SiteReply[]>> {
  const lists = await Promise.all(
    shards.map(async (keys) => {
      if (sites.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const site of sites) pipeline.lrange(keys.siteReplies(site), 0, SITE_REPLIES_KEPT - 1);
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, value]) => {
        if (err) throw err;
        return (value ?? []) as string[];
      });
    }),
  );
  const bySite = new Map<string, SiteReply[]>();
  sites.forEach((site, i) => {
    const all: SiteReply[] = [];
    for (const shard of lists)
      for (const json of shard[i] ?? []) {
        try {
          all.push(JSON.parse(json) as SiteReply);
        } catch {
          // A foreign entry: skipped.
        }
      }
    all.sort((a, b) => b.time - a.time);
    const seen = new Set<string>();
    const distinct: SiteReply[] = [];
    for (const reply of all) {
      const key = `${reply.code} ${reply.enhanced ?? ''} ${reply.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      distinct.push(reply);
      if (distinct.length === limit) break;
    }
    bySite.set(site, distinct);
  });
  return bySite;
}
