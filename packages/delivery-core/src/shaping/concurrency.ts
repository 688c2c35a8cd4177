/**
 * Postfix-like concurrency feedback per lane (a site, or site@source IP), shared by every relay
 * through Redis. A lane starts at `initial_connections` (Postfix: 5), grows by 1/window for each
 * attempt that held a whole conversation with the site (so by about one per window's worth of
 * them) up to `max_connections`, and shrinks by NEGATIVE_FEEDBACK for each attempt that failed at
 * the connection level (refused, timed out, 421, lost connection, TLS failure), down to one: a
 * destination that fails everything sees a trickle, not a flood. The window is the lane's
 * connection limit across relays and its in-flight cap in each process (the shaping gate).
 *
 * Key: `<prefix>:site:{<lane>}:window` (the window as a decimal; the connection lease script reads it too), expiring WINDOW_TTL_MS after the
 * last feedback, so a lane idle that long starts over at its initial value. Cost: the window is
 * read at most once per WINDOW_CACHE_MS per lane and process; at its ceiling, a success is written
 * at most once per WINDOW_REFRESH_MS (only to keep the key alive). Lua contract below.
 */

import type { ConnectionVerdict } from '../delivery/index.js';
import { laneWindowKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/** A connection-level failure takes this many connections off the window. */
export const NEGATIVE_FEEDBACK = 1;
/** A lane without feedback for this long forgets its window (starts over at initial). */
export const WINDOW_TTL_MS = 30 * 60_000;
/** How long this process reuses a window it read. */
const WINDOW_CACHE_MS = 250;
/** At the ceiling, successes refresh the key at most this often. */
const WINDOW_REFRESH_MS = WINDOW_TTL_MS / 3;
const WINDOW_CACHE_MAX_LANES = 10_000;

/**
 * concurrency-feedback.lua
 *
 * KEYS[1]  the lane's window (decimal string; absent = ARGV[2])
 * ARGV[1]  'up' or 'down'   ARGV[2] initial   ARGV[3] max   ARGV[4] ttl ms   ARGV[5] negative step
 *
 * Clamps the window to [1, max], then up: w + 1/w (at most max); down: w - step (at least 1).
 * Stores it with expiry ttl and returns it as a string.
 */
const FEEDBACK_LUA = `
local max = tonumber(ARGV[3])
local w = tonumber(redis.call('GET', KEYS[1]) or ARGV[2]) or max
if w > max then w = max end
if w < 1 then w = 1 end
if ARGV[1] == 'up' then
  w = w + 1 / w
  if w > max then w = max end
else
  w = w - tonumber(ARGV[5])
  if w < 1 then w = 1 end
end
redis.call('SET', KEYS[1], tostring(w), 'PX', ARGV[4])
return tostring(w)`;

interface Cached {
  at: number;
  /** undefined: no key (the lane is at its initial value). */
  window: number | undefined;
  /** Last time this process wrote a success at the ceiling. */
  refreshedAt?: number;
}

type FeedbackCall = (key: string, ...args: string[]) => Promise<string>;

export class ConcurrencyWindows {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('heraldConcurrencyFeedback', { numberOfKeys: 1, lua: FEEDBACK_LUA });
  }

  /** The lane's connection limit now: the window's whole part, within [1, max]. */
  async limit(lane: string, initial: number, max: number): Promise<number> {
    const now = this.now();
    let cached = this.cache.get(lane);
    if (!cached || now - cached.at >= WINDOW_CACHE_MS) {
      const value = await this.redis.get(laneWindowKey(this.prefix, lane));
      const parsed = value === null ? undefined : Number(value);
      cached = { ...cached, at: now, window: Number.isFinite(parsed) ? parsed : undefined };
      this.remember(lane, cached);
    }
    return clampWindow(cached.window ?? initial, max);
  }

  /**
   * Applies one attempt's verdict to the lane's window (best effort: errors are swallowed). This
   * process's view changes at once, before the Redis round trip (call it before freeing the
   * attempt's slot, so jobs waiting for it see the smaller window); Redis's answer then wins.
   */
  async feedback(lane: string, verdict: ConnectionVerdict, initial: number, max: number): Promise<void> {
    const now = this.now();
    const cached = this.cache.get(lane);
    if (verdict === 'success' && cached?.window !== undefined && cached.window >= max) {
      if (cached.refreshedAt !== undefined && now - cached.refreshedAt < WINDOW_REFRESH_MS) return;
      cached.refreshedAt = now;
    }
    const local = nextWindow(Math.min(max, cached?.window ?? initial), verdict, max);
    this.remember(lane, { ...cached, at: now, window: local });
    const run = (this.redis as unknown as Record<string, FeedbackCall>).heraldConcurrencyFeedback!;
    try {
      const value = await run.call(
        this.redis,
        laneWindowKey(this.prefix, lane),
        verdict === 'success' ? 'up' : 'down',
        String(initial),
        String(max),
        String(WINDOW_TTL_MS),
        String(NEGATIVE_FEEDBACK),
      );
      const window = Number(value);
      const refreshedAt = window >= max ? now : undefined;
      this.remember(lane, { at: now, window, ...(refreshedAt !== undefined ? { refreshedAt } : {}) });
    } catch {
      // Feedback is advice: a lost write leaves the window where it was.
    }
  }

  private remember(lane: string, value: Cached): void {
    if (this.cache.size >= WINDOW_CACHE_MAX_LANES && !this.cache.has(lane)) this.cache.clear();
    this.cache.set(lane, value);
  }
}

/** The window after one verdict (the Lua script's rule, for this process's own view). */
function nextWindow(window: number, verdict: ConnectionVerdict, max: number): number {
  const w = Math.max(1, window);
  return verdict === 'success' ? Math.min(max, w + 1 / w) : Math.max(1, w - NEGATIVE_FEEDBACK);
}

/** The usable connection count for a window: its whole part, at least 1 and at most `max`. */
export function clampWindow(window: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(window)));
}
