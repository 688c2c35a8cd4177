/**
 * Behaviour's counters (keys/behaviour.ts): what the spool's enqueue MULTI adds for the accounts
 * of a batch — accepted recipients per minute and per hour, the recipient domains per minute
 * (PFADD into a HyperLogLog) and, when bounces or complaints are judged, the message's account for
 * `attributeMs` — and what the evaluator reads back: an account's figures over each rule's window,
 * summed over the queue shards (one pipeline per shard: an MGET; with one shard a PFCOUNT too).
 * With several shards the domain spread is the union of the shards' HyperLogLogs (spread.ts), so a
 * domain seen in two shards counts once; it is read only when a domain_spread rule is on. A window
 * of W minutes reads the W whole minutes before the current one and the current one (bucketsOf):
 * mail counted in a minute after that minute's last pass is still judged at the next minute's
 * first pass. Each minute bucket expires after the longest window plus two buckets, each hour
 * bucket after the longest baseline plus one. Needs injected: the MULTI (counting) or a client (reading).
 */
import type { ChainableCommander } from 'ioredis';
import { domainAsWritten } from '../address/index.js';
import {
  BEHAVIOUR_MAX_BASELINE_MS,
  BEHAVIOUR_MAX_WINDOW_MS,
  MS_PER_HOUR,
  MS_PER_MINUTE,
} from '../config/index.js';
import { type BehaviourKind, behaviourCounterKey, behaviourMessageKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { exactSpread } from './spread.js';

export const MINUTE_BUCKET_MS = MS_PER_MINUTE;
export const HOUR_BUCKET_MS = MS_PER_HOUR;
/** A window reads one bucket more than it spans (bucketsOf), so a minute bucket outlives it by two. */
export const MINUTE_BUCKET_TTL_MS = BEHAVIOUR_MAX_WINDOW_MS + 2 * MINUTE_BUCKET_MS;
export const HOUR_BUCKET_TTL_MS = BEHAVIOUR_MAX_BASELINE_MS + HOUR_BUCKET_MS;

/** What intake hands the spool with a message when behaviour is on. */
export interface BehaviourMark {
  /** The account (lower-cased): the SMTP user, else the tenant. */
  account: string;
  /** Keep the message → account record this long (0: no bounce or complaint rule, none written). */
  attributeMs: number;
}

export interface CountedMessage {
  id: string;
  recipients: readonly string[];
  behaviour?: BehaviourMark | undefined;
}

const minuteOf = (now: number) => Math.floor(now / MINUTE_BUCKET_MS);
const hourOf = (now: number) => Math.floor(now / HOUR_BUCKET_MS);

/** Queues the batch's behaviour counts in its shard's MULTI; how many commands it added. */
export function queueBehaviourCounts(
  multi: ChainableCommander,
  prefix: string,
  shard: number,
  batch: readonly CountedMessage[],
  now: number,
): number {
  const perAccount = new Map<string, { n: number; domains: Set<string> }>();
  let commands = 0;
  for (const message of batch) {
    const mark = message.behaviour;
    if (!mark) continue;
    const entry = perAccount.get(mark.account) ?? { n: 0, domains: new Set<string>() };
    perAccount.set(mark.account, entry);
    entry.n += message.recipients.length;
    for (const r of message.recipients) entry.domains.add(domainAsWritten(r));
    if (mark.attributeMs > 0) {
      multi.set(behaviourMessageKey(prefix, message.id, shard), mark.account, 'PX', mark.attributeMs);
      commands += 1;
    }
  }
  const minute = minuteOf(now);
  const hour = hourOf(now);
  for (const [account, { n, domains }] of perAccount) {
    const perMinute = behaviourCounterKey(prefix, account, 'n', minute, shard);
    const perHour = behaviourCounterKey(prefix, account, 'N', hour, shard);
    const spread = behaviourCounterKey(prefix, account, 'd', minute, shard);
    multi
      .incrby(perMinute, n)
      .pexpire(perMinute, MINUTE_BUCKET_TTL_MS)
      .incrby(perHour, n)
      .pexpire(perHour, HOUR_BUCKET_TTL_MS)
      .pfadd(spread, ...domains)
      .pexpire(spread, MINUTE_BUCKET_TTL_MS);
    commands += 6;
  }
  return commands;
}

/** Adds n hard bounces (`h`) or complaints (`c`) to the account's current minute (queue shard 0). */
export async function countFeedback(
  redis: RedisClient,
  prefix: string,
  account: string,
  kind: 'h' | 'c',
  n: number,
  now: number,
): Promise<void> {
  if (n <= 0) return;
  const key = behaviourCounterKey(prefix, account, kind, minuteOf(now));
  await redis.multi().incrby(key, n).pexpire(key, MINUTE_BUCKET_TTL_MS).exec();
}

/** The account a message was accepted for, while its record lasts (`attributeMs`). */
export async function accountOfMessage(
  redis: RedisClient,
  prefix: string,
  messageId: string,
  shard: number,
): Promise<string | undefined> {
  return (await redis.get(behaviourMessageKey(prefix, messageId, shard))) ?? undefined;
}

/** An account's counts per minute (newest first, `minutes` of them) and per hour, summed over shards. */
export interface RawFigures {
  /** Accepted recipients per minute bucket, newest (current) first. */
  recipients: number[];
  hard: number[];
  complaints: number[];
  /** Accepted recipients per hour bucket, newest first. */
  hourly: number[];
  /** Distinct recipient domains in the last `spreadMinutes` minute buckets. */
  domains: number;
  /** How many minute buckets `domains` covers. */
  spreadMinutes: number;
}

export async function readFigures(
  redis: RedisClient,
  prefix: string,
  account: string,
  opts: { minutes: number; hours: number; spreadMinutes: number; shards: number; now: number },
): Promise<RawFigures> {
  const minute = minuteOf(opts.now);
  const hour = hourOf(opts.now);
  const sum: RawFigures = {
    recipients: new Array(opts.minutes).fill(0),
    hard: new Array(opts.minutes).fill(0),
    complaints: new Array(opts.minutes).fill(0),
    hourly: new Array(opts.hours).fill(0),
    domains: 0,
    spreadMinutes: opts.spreadMinutes,
  };
  const minuteKeys = (kind: BehaviourKind, shard: number, count: number) =>
    Array.from({ length: count }, (_, i) => behaviourCounterKey(prefix, account, kind, minute - i, shard));
  const shards = Math.max(1, opts.shards);
  // One shard: its PFCOUNT in the pipeline. Several: the union of theirs (spread.ts).
  const spreadInPipeline = opts.spreadMinutes > 0 && shards === 1;
  const union = async () => {
    if (opts.spreadMinutes === 0 || shards === 1) return;
    const minutes = Array.from({ length: opts.spreadMinutes }, (_, i) => minute - i);
    sum.domains = await exactSpread(redis, prefix, account, { minutes, shards });
  };
  const perShard = Array.from({ length: shards }, async (_, shard) => {
    const keys = [
      ...minuteKeys('n', shard, opts.minutes),
      ...minuteKeys('h', shard, opts.minutes),
      ...minuteKeys('c', shard, opts.minutes),
      ...Array.from({ length: opts.hours }, (_, i) =>
        behaviourCounterKey(prefix, account, 'N', hour - i, shard),
      ),
    ];
    const pipeline = redis.pipeline().mget(...keys);
    if (spreadInPipeline) pipeline.pfcount(...minuteKeys('d', shard, opts.spreadMinutes));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    const values = ((results[0]?.[1] ?? []) as (string | null)[]).map((v) => Number(v ?? 0));
    const add = (target: number[], from: number) => {
      for (let i = 0; i < target.length; i++) target[i]! += values[from + i] ?? 0;
    };
    add(sum.recipients, 0);
    add(sum.hard, opts.minutes);
    add(sum.complaints, 2 * opts.minutes);
    add(sum.hourly, 3 * opts.minutes);
    if (spreadInPipeline) sum.domains = Number(results[1]?.[1] ?? 0);
  });
  await Promise.all([...perShard, union()]);
  return sum;
}

/** Whole minutes a window spans (its length as configured, rounded up). */
export function minutesOf(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / MINUTE_BUCKET_MS));
}

/**
 * Minute buckets a window reads: the minutesOf(window) whole minutes before the current one, and the
 * current, partial one — so the read spans between W and W + 1 minutes, and nothing counted
 * between two passes (late in a minute, after its last pass) escapes judgement.
 */
export function bucketsOf(windowMs: number): number {
  return minutesOf(windowMs) + 1;
}

/** Hour buckets covering a window ending now. */
export function hoursOf(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / HOUR_BUCKET_MS));
}

/** The sum of the newest `count` buckets. */
export function newest(buckets: readonly number[], count: number): number {
  let total = 0;
  for (let i = 0; i < Math.min(count, buckets.length); i++) total += buckets[i]!;
  return total;
}

/**
 * The figures without the minute buckets that began at or before `clearedAt` (an unflag): those
 * counts are zeroed, and the domain spread, which cannot be split, is dropped when its window
 * reaches back that far. The hourly baseline is kept.
 */
export function sinceCleared(raw: RawFigures, now: number, clearedAt: number): RawFigures {
  const fresh = minuteOf(now) - minuteOf(clearedAt);
  const cut = (values: number[]) => values.map((v, i) => (i < fresh ? v : 0));
  return {
    recipients: cut(raw.recipients),
    hard: cut(raw.hard),
    complaints: cut(raw.complaints),
    hourly: raw.hourly,
    domains: fresh >= raw.spreadMinutes ? raw.domains : 0,
    spreadMinutes: raw.spreadMinutes,
  };
}
