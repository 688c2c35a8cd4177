/**
 * The event streams of a sharded queue (one per shard, `queue.shards`) read as one: a merged
 * cursor names a position in each stream, its stream ids joined by ',' in shard order (one
 * shard: the plain stream id, so a single-slot installation's cursors are unchanged). A plain id
 * given for several streams means "after this id" in every one; a cursor with fewer ids than
 * streams (the shard count grew) starts the streams it does not name from their beginning (they
 * are newer than the cursor). `tailMerged` yields entries merged by stream id (a message's
 * events are all in its shard's stream, so they keep their order); each entry's `id` is the
 * merged cursor just after it. Following, it reads every stream (one XREAD each, no XREAD spans
 * two slots) and, when none had news, blocks on one stream in turn for at most POLL_MS.
 * Stream ids are compared, and cursors split and joined, by cursor.ts's functions.
 */
import type { RedisClient } from '../redis/index.js';
import { CURSOR_SEPARATOR, compareStreamIds, joinCursor, splitCursor } from './cursor.js';
import type { HeraldEvent } from './types.js';

/** Longest block on one stream while following several: how late another stream's news is seen. */
const POLL_MS = 200;
const PAGE = 500;
const STREAM_ID = /^\d+(-\d+)?$/;

type Entry = [id: string, fields: string[]];

export interface MergedEntry {
  /** The merged cursor just after this entry. */
  id: string;
  /** The entry's own stream id, and the index of its stream. */
  streamId: string;
  shard: number;
  event: HeraldEvent;
}

/** A merged cursor: one stream id, or several joined by ','. */
export function isStreamCursor(value: string): boolean {
  return value.split(CURSOR_SEPARATOR).every((id) => STREAM_ID.test(id));
}

/** Largest part of a stream id (ms and seq are each an unsigned 64-bit integer in Redis). */
const MAX_ID_PART = 18_446_744_073_709_551_615n;
const STREAM_ID_PARTS = /^(\d{1,20})(?:-(\d{1,20}))?$/;
/** Characters of one stream id at most ("ms-seq", 20 digits each) and its separator. */
const MAX_ID_CHARS = 42;

/**
 * Why `cursor` is not a position in `streams` streams Redis can read after, or undefined: too
 * long, more ids than streams (a plain id stands for every stream), an id not "ms" or "ms-seq",
 * a part over 2^64-1, or the last possible id (nothing comes after it). Quotes nothing of the
 * cursor.
 */
export function cursorProblem(cursor: string, streams: number): string | undefined {
  if (cursor.length > Math.max(1, streams) * MAX_ID_CHARS)
    return `longer than ${Math.max(1, streams) * MAX_ID_CHARS} characters`;
  const ids = cursor.split(CURSOR_SEPARATOR);
  if (ids.length > 1 && ids.length > streams)
    return `${ids.length} stream ids for ${streams} stream${streams === 1 ? '' : 's'} (queue.shards)`;
  for (const id of ids) {
    const parts = STREAM_ID_PARTS.exec(id);
    if (!parts) return 'expected a stream id (ms or ms-seq; several joined by "," on a sharded queue)';
    const ms = BigInt(parts[1]!);
    const seq = BigInt(parts[2] ?? '0');
    if (ms > MAX_ID_PART || seq > MAX_ID_PART) return 'a stream id part over 18446744073709551615';
    if (ms === MAX_ID_PART && seq === MAX_ID_PART)
      return 'the last possible stream id: nothing comes after it';
  }
  return undefined;
}

/**
 * Compares two cursors of one consumer (plain stream ids, or merged cursors compared id by id):
 * positive when `a` is past `b` in some stream and behind in none, 0 when equal, else negative.
 */
export function compareCursors(a: string, b: string): number {
  if (!a.includes(CURSOR_SEPARATOR) && !b.includes(CURSOR_SEPARATOR)) return compareStreamIds(a, b);
  const n = Math.max(a.split(CURSOR_SEPARATOR).length, b.split(CURSOR_SEPARATOR).length);
  const x = splitCursor(a, n);
  const y = splitCursor(b, n);
  const signs = x.map((id, i) => compareStreamIds(id, y[i]!));
  if (signs.every((c) => c === 0)) return 0;
  return signs.every((c) => c >= 0) ? 1 : -1;
}

/** The oldest entry of each stream ("0" when empty), as a merged cursor; undefined when all are empty. */
export async function oldestCursor(redis: RedisClient, keys: readonly string[]): Promise<string | undefined> {
  const ids = await Promise.all(
    keys.map(async (key) => {
      const [first] = (await redis.xrange(key, '-', '+', 'COUNT', 1)) as Entry[];
      return first ? first[0] : '0';
    }),
  );
  return ids.every((id) => id === '0') ? undefined : joinCursor(ids);
}

/** Whether every stream still holds the entry its id in `cursor` names ("0": nothing to hold). */
export async function cursorEntriesKept(
  redis: RedisClient,
  keys: readonly string[],
  cursor: string,
): Promise<boolean> {
  const ids = splitCursor(cursor, keys.length);
  const kept = await Promise.all(
    keys.map(async (key, i) =>
      ids[i] === '0' || ids[i] === '0-0' ? true : (await redis.xrange(key, ids[i]!, ids[i]!)).length > 0,
    ),
  );
  return kept.every(Boolean);
}

/** The newest position of each stream ("0" when empty): the merged cursor of "only what comes next". */
export async function newestCursor(redis: RedisClient, keys: readonly string[]): Promise<string> {
  const ids = await Promise.all(
    keys.map(async (key) => {
      const [last] = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as Entry[];
      return last ? last[0] : '0';
    }),
  );
  return joinCursor(ids);
}

export interface MergedTailOptions {
  keep(event: HeraldEvent): boolean;
  /** Start after this merged cursor; absent: the last `limit` kept entries. */
  after?: string;
  limit: number;
  follow?: boolean;
  signal?: AbortSignal;
  blockMs?: number;
  /** Without follow: entries examined at most (with no `after`: shared out among the streams). */
  maxScanned?: number;
}

/**
 * Why a read without follow ended early: its `maxScanned` budget ran out (`scan_budget`) or its
 * signal aborted. `cursor`: read on after it (with `after`, the last entry examined; without,
 * the newest position when the read began).
 */
export interface TailStop {
  reason: 'scan_budget' | 'aborted';
  cursor: string;
}

function parse(fields: string[]): HeraldEvent | undefined {
  const at = fields.indexOf('event');
  try {
    return JSON.parse(fields[at + 1] ?? '') as HeraldEvent;
  } catch {
    return undefined; // not one of Herald's records: skipped
  }
}

/** Entries of every stream merged by stream id (ties: lower shard first). */
function mergeByStreamId(perShard: readonly Entry[][]): { shard: number; entry: Entry }[] {
  const all = perShard.flatMap((entries, shard) => entries.map((entry) => ({ shard, entry })));
  return all.sort((a, b) => compareStreamIds(a.entry[0], b.entry[0]) || a.shard - b.shard);
}

/**
 * The last `limit` kept entries of each stream up to `newest`, merged, the last `limit` of them;
 * each stream scanned back over at most its share of `maxScanned`.
 */
async function lastKept(
  redis: RedisClient,
  keys: readonly string[],
  newest: readonly string[],
  options: MergedTailOptions,
): Promise<{ last: { shard: number; entry: Entry }[]; stopped?: TailStop['reason'] }> {
  const share = Math.ceil((options.maxScanned ?? Number.POSITIVE_INFINITY) / keys.length);
  let stopped: TailStop['reason'] | undefined;
  const perShard = await Promise.all(
    keys.map(async (key, i) => {
      const found: Entry[] = [];
      if (newest[i] === '0') return found;
      let end = newest[i]!;
      let scanned = 0;
      while (found.length < options.limit) {
        if (options.signal?.aborted) {
          stopped = 'aborted';
          break;
        }
        if (scanned >= share) {
          stopped ??= 'scan_budget';
          break;
        }
        const count = Math.min(PAGE, share - scanned);
        const page = (await redis.xrevrange(key, end, '-', 'COUNT', count)) as Entry[];
        scanned += page.length;
        for (const entry of page) {
          const event = parse(entry[1]);
          if (event && options.keep(event)) found.push(entry);
          if (found.length === options.limit) break;
        }
        if (page.length < count) break;
        end = `(${page[page.length - 1]![0]}`;
      }
      return found.reverse();
    }),
  );
  const merged = mergeByStreamId(perShard);
  return { last: merged.slice(Math.max(0, merged.length - options.limit)), ...(stopped ? { stopped } : {}) };
}

/** The greatest stream id below `id` (a cursor just before the entry `id`). */
export function idBefore(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  return BigInt(ms) > 0n ? `${BigInt(ms) - 1n}-${MAX_SEQ}` : '0';
}
const MAX_SEQ = '18446744073709551615';

/** Yields the merged streams from the cursor, as `tailEvents` does for one (see the header). */
export async function* tailMerged(
  redis: RedisClient,
  keys: readonly string[],
  options: MergedTailOptions,
): AsyncGenerator<MergedEntry, TailStop | undefined> {
  const { signal } = options;
  const budget = options.maxScanned ?? Number.POSITIVE_INFINITY;
  let pos: string[];
  if (options.after === undefined) {
    const newest = (await newestCursor(redis, keys)).split(CURSOR_SEPARATOR);
    const { last, stopped } = await lastKept(redis, keys, newest, options);
    // Each entry's cursor: in its shard and those already yielded, the last yielded entry; in a
    // shard still to come, just before its first entry; in a shard with none, its newest id.
    pos = [...newest];
    for (let k = last.length - 1; k >= 0; k--) pos[last[k]!.shard] = idBefore(last[k]!.entry[0]);
    for (const { shard, entry } of last) {
      pos[shard] = entry[0];
      const event = parse(entry[1]);
      if (event) yield { id: joinCursor(pos), streamId: entry[0], shard, event };
    }
    pos = [...newest];
    if (stopped) return { reason: stopped, cursor: joinCursor(pos) };
  } else {
    pos = splitCursor(options.after, keys.length);
    const readPos = [...pos];
    const buffers: Entry[][] = keys.map(() => []);
    const done = keys.map(() => false);
    let sent = 0;
    let scanned = 0;
    while (sent < options.limit) {
      if (!options.follow && signal?.aborted) return { reason: 'aborted', cursor: joinCursor(pos) };
      if (scanned >= budget) return { reason: 'scan_budget', cursor: joinCursor(pos) };
      // A stream is merged only while it has entries buffered or is known to have no more.
      await Promise.all(
        keys.map(async (key, i) => {
          if (done[i] || buffers[i]!.length > 0) return;
          const page = (await redis.xrange(key, `(${readPos[i]}`, '+', 'COUNT', PAGE)) as Entry[];
          if (page.length === 0) done[i] = true;
          else {
            buffers[i]!.push(...page);
            readPos[i] = page[page.length - 1]![0];
          }
        }),
      );
      let pick = -1;
      for (let i = 0; i < keys.length; i++) {
        const head = buffers[i]![0];
        if (head && (pick < 0 || compareStreamIds(head[0], buffers[pick]![0]![0]) < 0)) pick = i;
      }
      if (pick < 0) break;
      const entry = buffers[pick]!.shift()!;
      pos[pick] = entry[0];
      scanned++;
      const event = parse(entry[1]);
      if (!event || !options.keep(event)) continue;
      yield { id: joinCursor(pos), streamId: entry[0], shard: pick, event };
      sent++;
    }
  }
  if (!options.follow) return undefined;
  const pollMs = Math.min(options.blockMs ?? POLL_MS, POLL_MS);
  let turn = 0;
  while (!signal?.aborted) {
    const pages = await Promise.all(
      keys.map(async (key, i) => (await redis.xrange(key, `(${pos[i]}`, '+', 'COUNT', PAGE)) as Entry[]),
    );
    const merged = mergeByStreamId(pages);
    if (merged.length === 0) {
      const shard = turn++ % keys.length;
      await redis.xread('COUNT', 1, 'BLOCK', String(pollMs), 'STREAMS', keys[shard]!, pos[shard]!);
      continue;
    }
    for (const { shard, entry } of merged) {
      pos[shard] = entry[0];
      const event = parse(entry[1]);
      if (event && options.keep(event)) yield { id: joinCursor(pos), streamId: entry[0], shard, event };
      if (signal?.aborted) return undefined;
    }
  }
}
