/**
 * A consumer's place in the event stream, kept in Redis (`<prefix>:cursor:<name>`) so a role that
 * reads the stream (the accounting log, the webhook dispatcher) resumes after a restart where it
 * stopped: `load` gives the last id it finished with (undefined before its first save), `save`
 * moves it forward only (a stale writer cannot move it back). `trimmedAfter` says whether the
 * stream already dropped entries newer than a cursor (MAXLEN trimming outran the consumer: a gap
 * to report, since those entries are gone). `saveIn` queues the same forward-only save on a
 * MULTI, for a consumer whose own writes must move with its cursor (the webhook dispatcher).
 * A consumer of a sharded queue's streams keeps a merged cursor (one id per shard's stream, joined
 * by ','; `splitCursor` / `joinCursor`, read by merged.ts): each id moves forward only,
 * independently. `compareStreamIds` is the one comparison of stream ids in TypeScript.
 */
import type { ChainableCommander } from 'ioredis';
import { streamCursorKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/** Joins a merged cursor's stream ids, one per shard's stream in shard order. */
export const CURSOR_SEPARATOR = ',';

export interface StreamCursor {
  /** The cursor's key (a transaction may WATCH it). */
  readonly key: string;
  load(): Promise<string | undefined>;
  /** Stores `id` unless the stored cursor is already at or past it. */
  save(id: string): Promise<void>;
  /** Queues `save(id)` on `tx` (a MULTI): it commits with the transaction's other writes. */
  saveIn(tx: ChainableCommander, id: string): void;
}

/**
 * KEYS[1] cursor. ARGV[1] a stream id "ms-seq", or several joined by ','. Each id replaces the
 * stored one at its place only when it is newer (a stored plain id stands for every place; a
 * place the stored cursor lacks is "0"). Returns 1 when the stored cursor changed.
 */
const SAVE_FORWARD_LUA = `
local function ids(s)
  local out = {}
  for id in string.gmatch(s, '[^,]+') do out[#out + 1] = id end
  return out
end
local function newer(a, b)
  local ams, aseq = string.match(a, '^(%d+)-?(%d*)$')
  local bms, bseq = string.match(b, '^(%d+)-?(%d*)$')
  if not bms then return true end
  local x, y = tonumber(ams), tonumber(bms)
  return x > y or (x == y and (tonumber(aseq) or 0) > (tonumber(bseq) or 0))
end
local want = ids(ARGV[1])
for _, id in ipairs(want) do
  if not string.match(id, '^(%d+)-?(%d*)$') then return redis.error_reply('bad stream id') end
end
local cur = redis.call('GET', KEYS[1])
local have = cur and ids(cur) or {}
local out, changed = {}, false
for i, id in ipairs(want) do
  local old = have[i] or (#have == 1 and have[1]) or nil
  if old == nil or newer(id, old) then out[i] = id; changed = true else out[i] = old end
end
if not changed then return 0 end
redis.call('SET', KEYS[1], table.concat(out, ','))
return 1`;

export function streamCursor(redis: RedisClient, prefix: string, consumer: string): StreamCursor {
  const key = streamCursorKey(prefix, consumer);
  return {
    key,
    async load() {
      return (await redis.get(key)) ?? undefined;
    },
    async save(id) {
      await redis.eval(SAVE_FORWARD_LUA, 1, key, id);
    },
    saveIn(tx, id) {
      tx.eval(SAVE_FORWARD_LUA, 1, key, id);
    },
  };
}

/** Compares two stream ids ("ms" or "ms-seq"): negative when a is older than b. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/**
 * The position in each of `streams` streams a cursor names: a plain id is the same position in
 * every stream; a stream a shorter cursor does not name starts at "0", its beginning.
 */
export function splitCursor(cursor: string, streams: number): string[] {
  const ids = cursor.split(CURSOR_SEPARATOR);
  if (ids.length === 1) return Array.from({ length: streams }, () => ids[0]!);
  return Array.from({ length: streams }, (_, i) => ids[i] ?? '0');
}

/** The merged cursor of one position per stream (one stream: its plain id). */
export function joinCursor(ids: readonly string[]): string {
  return ids.join(CURSOR_SEPARATOR);
}

/**
 * True when entries after `cursor` may have been trimmed before being read: the cursor's own
 * entry is gone and the stream's oldest entry is newer than it (MAXLEN trimming passed it). A
 * cursor whose entry is still there, a cursor of "0" and an empty stream are no gap. Trimming
 * removes whole radix nodes, so "may": the entries right after the cursor can have survived.
 */
export async function trimmedAfter(
  redis: RedisClient,
  streamKeys: string | readonly string[],
  cursor: string,
): Promise<boolean> {
  if (typeof streamKeys !== 'string') {
    const ids = splitCursor(cursor, streamKeys.length);
    const gaps = await Promise.all(streamKeys.map((key, i) => trimmedAfter(redis, key, ids[i]!)));
    return gaps.some(Boolean);
  }
  const streamKey = streamKeys;
  if (cursor === '0' || cursor === '0-0') return false;
  const [first] = (await redis.xrange(streamKey, '-', '+', 'COUNT', 1)) as [string, string[]][];
  if (!first || compareStreamIds(first[0], cursor) <= 0) return false;
  const own = await redis.xrange(streamKey, cursor, cursor);
  return own.length === 0;
}
