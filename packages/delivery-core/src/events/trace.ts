/**
 * Per-message traces: every event that names a message (accepted, attempt, deferred and the
 * terminal outcomes, bounce / complaint received) is also appended, as the same JSON the stream
 * holds, to the list `<prefix>:{queue}:msg:<id>:trace` (keys/queue.ts), in the same pipeline or
 * MULTI as its stream entry. A trace begins with its `accepted` event (RPUSH); every later event
 * is appended only to a trace that exists (RPUSHX), so a late report about a message whose trace
 * expired creates nothing. Each write moves the list's expiry to `events.trace_retention` after the
 * later of now and the event's next attempt (a deferral), and never earlier than it was (PEXPIREAT
 * GT, Redis 7): a trace outlives its queued message, whatever the retry delay, by the retention.
 *
 * Cap (`events.trace_max_entries`, at least 3): the first entry (the `accepted` event) and the
 * newest ones are kept; on the first overflow the second entry becomes the TRACE_TRUNCATED marker,
 * and from then on the oldest event after the marker is dropped. The list stays at most the cap
 * long. The trim is one Lua script, run only for the rare trace a write found over its cap.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/index.js';
import type { AcceptedEvent, HeraldEvent } from './types.js';

/** The entry that stands for the events a trace dropped (index 1 once it overflowed). */
export const TRACE_TRUNCATED = 'truncated';

/** Defaults of the config keys `events.trace_retention` and `events.trace_max_entries`. */
export const DEFAULT_TRACE_RETENTION_MS = 3600 * 1000;
export const DEFAULT_TRACE_MAX_ENTRIES = 1000;

export interface TraceOptions {
  /** The trace key of a message id (keys/queue.ts `QueueKeys.trace`). */
  key(messageId: string): string;
  retentionMs: number;
  maxEntries: number;
}

/** The message an event belongs to in a trace, if any. */
export function traceMessageId(event: HeraldEvent): string | undefined {
  return 'messageId' in event && event.messageId ? event.messageId : undefined;
}

/**
 * Queues the trace write of one event (JSON `json`) on `commands`: RPUSH and PEXPIREAT for
 * `accepted`, RPUSHX and PEXPIREAT … GT otherwise (see the header: the expiry only moves later).
 * Returns the number of commands queued (0 when the event names no message); the first command's
 * result is the list's length.
 */
export function queueTraceWrite(
  commands: ChainableCommander,
  event: Pick<HeraldEvent, 'type'> & { messageId?: string; nextAttemptAt?: number | undefined },
  json: string,
  options: Pick<TraceOptions, 'key' | 'retentionMs'>,
  now = Date.now(),
): number {
  if (!event.messageId) return 0;
  const key = options.key(event.messageId);
  const expireAt = Math.max(now, event.nextAttemptAt ?? 0) + options.retentionMs;
  if (event.type === 'accepted') commands.rpush(key, json).pexpireat(key, expireAt);
  // GT: a key's expiry only moves later (another domain's deferral may have set a later one).
  else commands.rpushx(key, json).pexpireat(key, expireAt, 'GT');
  return 2;
}

/**
 * The trace writes of a batch of events, one RPUSHX (and one PEXPIREAT GT) per message for the
 * events after `accepted` (an attempt and its recipients' outcomes usually come in one batch),
 * in emission order; `accepted` keeps its own RPUSH. Returns, per push, its index among the
 * queued commands (counted from `first`) and its message id, for the trim check.
 */
export function queueTraceWrites(
  commands: ChainableCommander,
  events: readonly {
    type: HeraldEvent['type'];
    messageId?: string | undefined;
    nextAttemptAt?: number | undefined;
    json: string;
  }[],
  options: Pick<TraceOptions, 'key' | 'retentionMs'>,
  first: number,
  now = Date.now(),
): { pushes: { index: number; messageId: string }[]; commands: number } {
  const pushes: { index: number; messageId: string }[] = [];
  const grouped = new Map<string, { jsons: string[]; expireAt: number }>();
  let index = first;
  for (const event of events) {
    if (!event.messageId) continue;
    if (event.type === 'accepted') {
      pushes.push({ index, messageId: event.messageId });
      index += queueTraceWrite(commands, { ...event, messageId: event.messageId }, event.json, options, now);
      continue;
    }
    const expireAt = Math.max(now, event.nextAttemptAt ?? 0) + options.retentionMs;
    const group = grouped.get(event.messageId);
    if (group) {
      group.jsons.push(event.json);
      group.expireAt = Math.max(group.expireAt, expireAt);
    } else grouped.set(event.messageId, { jsons: [event.json], expireAt });
  }
  for (const [messageId, { jsons, expireAt }] of grouped) {
    const key = options.key(messageId);
    pushes.push({ index, messageId });
    // GT: a key's expiry only moves later (another domain's deferral may have set a later one).
    commands.rpushx(key, ...jsons).pexpireat(key, expireAt, 'GT');
    index += 2;
  }
  return { pushes, commands: index - first };
}

/**
 * KEYS[1] the trace. ARGV[1] the cap (>= 3). ARGV[2] the marker. ARGV[3] a placeholder value no
 * event JSON equals. While the list is longer than the cap: the entry at index 1 becomes the
 * marker (first overflow), else the entry at index 2 (the oldest event after the marker) is
 * removed. Returns the list's length after.
 */
const TRIM_TRACE_LUA = `
local cap = tonumber(ARGV[1])
local n = redis.call('LLEN', KEYS[1])
while n > cap do
  if redis.call('LINDEX', KEYS[1], 1) ~= ARGV[2] then
    redis.call('LSET', KEYS[1], 1, ARGV[2])
  end
  redis.call('LSET', KEYS[1], 2, ARGV[3])
  redis.call('LREM', KEYS[1], 1, ARGV[3])
  n = n - 1
end
return n`;

/** Not JSON, so never an event. */
const TRIM_PLACEHOLDER = '\u0000drop';

/** Trims a trace found over its cap (see TRIM_TRACE_LUA). */
export function trimTrace(redis: RedisClient, key: string, maxEntries: number): Promise<unknown> {
  return redis.eval(TRIM_TRACE_LUA, 1, key, String(maxEntries), TRACE_TRUNCATED, TRIM_PLACEHOLDER);
}

/** A trace as written: its events oldest first, and whether entries were dropped. */
export interface MessageTrace {
  events: HeraldEvent[];
  truncated: boolean;
}

/** The first entry of a message's trace, its `accepted` event (one LINDEX); undefined when none. */
export async function readAcceptedEvent(redis: RedisClient, key: string): Promise<AcceptedEvent | undefined> {
  const first = await redis.lindex(key, 0);
  if (first === null) return undefined;
  try {
    const event = JSON.parse(first) as HeraldEvent;
    return event.type === 'accepted' ? event : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a message's trace; undefined when there is none (never accepted, or expired). */
export async function readTrace(redis: RedisClient, key: string): Promise<MessageTrace | undefined> {
  const entries = await redis.lrange(key, 0, -1);
  if (entries.length === 0) return undefined;
  const events: HeraldEvent[] = [];
  let truncated = false;
  for (const entry of entries) {
    if (entry === TRACE_TRUNCATED) {
      truncated = true;
      continue;
    }
    try {
      events.push(JSON.parse(entry) as HeraldEvent);
    } catch {
      // A foreign entry: skipped, the rest of the trace still reads.
    }
  }
  return { events, truncated };
}
