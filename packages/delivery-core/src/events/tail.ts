/**
 * Reading the event stream from a cursor: `tailEvents` yields stream entries (`{ id, event }`)
 * oldest first, filtered by event type and tenant. Without `follow` it reads the last `limit`
 * matching entries (or, with `after`, up to `limit` entries after that id) and ends; with
 * `follow` it then waits for new entries with `XREAD BLOCK` (at most `blockMs` per call, so an
 * abort is noticed) until `signal` aborts. Resuming from the last id yielded never skips nor
 * repeats an entry. Shared by `herald events tail` and (later) the HTTP API's `GET /v1/events`.
 * Give it its own connection when following: a blocking read holds the connection. Given the
 * streams of every queue shard, it reads them as one (merged.ts: entries by stream id, a merged
 * cursor of one id per stream). `maxScanned` bounds the entries a read without follow examines
 * (matching or not) and an aborted `signal` ends it at the next page; either way the generator
 * returns a TailStop saying where it stopped, so a caller can answer what it found and read on
 * from there (a filter that matches rarely never costs an unbounded scan per call).
 */
import type { RedisClient } from '../redis/index.js';
import { type TailStop, tailMerged } from './merged.js';
import type { HeraldEvent } from './types.js';

/** Every event type of the vocabulary (types.ts), for validating a filter. */
export const EVENT_TYPES = [
  'accepted',
  'attempt',
  'delivered',
  'deferred',
  'bounced',
  'expired',
  'suppressed',
  'site_suspended',
  'site_slowed',
  'site_resumed',
  'source_suspended',
  'tenant_paused',
  'tenant_resumed',
  'bounce_received',
  'complaint_received',
  'client_blocked',
  'client_limited',
  'quarantined',
  'released',
  'account_flagged',
  'account_unflagged',
] as const satisfies readonly HeraldEvent['type'][];

export type EventType = (typeof EVENT_TYPES)[number];
/** Compile-time check that EVENT_TYPES lists every type of the vocabulary: `never` when it does. */
type Unlisted = Exclude<HeraldEvent['type'], EventType>;
const EVERY_TYPE_LISTED: [Unlisted] extends [never] ? true : Unlisted = true;
void EVERY_TYPE_LISTED;

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** A stream id: milliseconds, optionally `-sequence`. */
const STREAM_ID = /^\d+(-\d+)?$/;

export function isStreamId(value: string): boolean {
  return STREAM_ID.test(value);
}

export interface StreamEvent {
  /** The cursor to resume after: the stream entry id (of several streams: the merged cursor). */
  id: string;
  /** Of several streams: the entry's own stream id (when it was written). Absent: `id`. */
  streamId?: string;
  event: HeraldEvent;
}

export interface TailOptions {
  /** Event types to keep; empty or absent: all. */
  types?: readonly string[];
  /** Keep only events of this tenant (events without a tenant are dropped). */
  tenant?: string;
  /** Start after this stream id (merged cursor); absent: the last `limit` matching entries. */
  after?: string;
  /** At most this many entries before following (default 20). */
  limit?: number;
  /** Keep reading new entries until `signal` aborts. */
  follow?: boolean;
  /** Following: stops the follow. Without follow: ends the read at its next page (a TailStop). */
  signal?: AbortSignal;
  /**
   * Without follow: examine at most this many entries (matching or not; of several streams, with
   * no `after`, this many in all, shared out) and return a TailStop where the budget ran out.
   */
  maxScanned?: number;
  /** Longest single XREAD BLOCK in ms (default 1000): how late an abort is noticed. */
  blockMs?: number;
}

export const DEFAULT_TAIL_LIMIT = 20;
const DEFAULT_BLOCK_MS = 1_000;
/** Entries read per XRANGE / XREVRANGE / XREAD call. */
const PAGE = 500;

type Entry = [id: string, fields: string[]];

function parse([id, fields]: Entry): StreamEvent | undefined {
  const at = fields.indexOf('event');
  try {
    return { id, event: JSON.parse(fields[at + 1] ?? '') as HeraldEvent };
  } catch {
    return undefined; // not one of Herald's records: skipped
  }
}

function matcher(options: TailOptions): (entry: StreamEvent) => boolean {
  const types = options.types && options.types.length > 0 ? new Set(options.types) : undefined;
  return ({ event }) =>
    (!types || types.has(event.type)) &&
    (options.tenant === undefined || ('tenant' in event && event.tenant === options.tenant));
}

/**
 * The last `limit` matching entries up to `newest` (inclusive), oldest first, scanning back over
 * at most `budget` entries; `stopped` when the budget or `signal` ended the scan first.
 */
async function lastMatching(
  redis: RedisClient,
  key: string,
  options: { limit: number; budget: number; signal: AbortSignal | undefined },
  keep: (e: StreamEvent) => boolean,
  newest: string,
): Promise<{ found: StreamEvent[]; stopped?: TailStop['reason'] }> {
  const found: StreamEvent[] = [];
  if (newest === '0') return { found };
  let end = newest;
  let scanned = 0;
  let stopped: TailStop['reason'] | undefined;
  while (found.length < options.limit) {
    if (options.signal?.aborted) stopped = 'aborted';
    else if (scanned >= options.budget) stopped = 'scan_budget';
    if (stopped) break;
    const count = Math.min(PAGE, options.budget - scanned);
    const page = (await redis.xrevrange(key, end, '-', 'COUNT', count)) as Entry[];
    scanned += page.length;
    for (const entry of page) {
      const parsed = parse(entry);
      if (parsed && keep(parsed)) found.push(parsed);
      if (found.length === options.limit) break;
    }
    if (page.length < count) break;
    end = `(${page[page.length - 1]![0]}`;
  }
  return { found: found.reverse(), ...(stopped ? { stopped } : {}) };
}

/** The newest id in the stream, or "0" when it is empty (the cursor for "only what comes next"). */
async function newestId(redis: RedisClient, key: string): Promise<string> {
  const [last] = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as Entry[];
  return last ? last[0] : '0';
}

/** Yields the stream's entries from the cursor as described in the header; see TailOptions. */
export async function* tailEvents(
  redis: RedisClient,
  streamKeys: string | readonly string[],
  options: TailOptions = {},
): AsyncGenerator<StreamEvent, TailStop | undefined> {
  const keep = matcher(options);
  const limit = options.limit ?? DEFAULT_TAIL_LIMIT;
  if (typeof streamKeys !== 'string' && streamKeys.length > 1) {
    // A merged entry is a StreamEvent (its `shard` besides).
    return yield* tailMerged(redis, streamKeys, {
      ...options,
      limit,
      keep: (event) => keep({ id: '', event }),
    });
  }
  const streamKey = typeof streamKeys === 'string' ? streamKeys : streamKeys[0]!;
  const { signal } = options;
  const budget = options.maxScanned ?? Number.POSITIVE_INFINITY;
  let cursor: string;
  if (options.after === undefined) {
    cursor = await newestId(redis, streamKey);
    const { found, stopped } = await lastMatching(redis, streamKey, { limit, budget, signal }, keep, cursor);
    for (const entry of found) yield entry;
    if (stopped) return { reason: stopped, cursor };
  } else {
    cursor = options.after;
    let sent = 0;
    let scanned = 0;
    while (sent < limit) {
      if (!options.follow && signal?.aborted) return { reason: 'aborted', cursor };
      if (scanned >= budget) return { reason: 'scan_budget', cursor };
      const count = Math.min(PAGE, budget - scanned);
      const page = (await redis.xrange(streamKey, `(${cursor}`, '+', 'COUNT', count)) as Entry[];
      for (const entry of page) {
        cursor = entry[0];
        scanned++;
        const parsed = parse(entry);
        if (!parsed || !keep(parsed)) continue;
        yield parsed;
        if (++sent === limit) break;
      }
      if (page.length < count) break;
    }
  }
  if (!options.follow) return undefined;
  const blockMs = String(options.blockMs ?? DEFAULT_BLOCK_MS);
  while (!signal?.aborted) {
    const reply = (await redis.xread('COUNT', PAGE, 'BLOCK', blockMs, 'STREAMS', streamKey, cursor)) as
      | [string, Entry[]][]
      | null;
    for (const entry of reply?.[0]?.[1] ?? []) {
      cursor = entry[0];
      const parsed = parse(entry);
      if (parsed && keep(parsed)) yield parsed;
      if (signal?.aborted) return undefined;
    }
  }
}
