/**
 * Activity over the last minutes. `activitySummary` reads the per-minute counters Herald keeps in
 * Redis with its events (delivery-core's events/activity.ts: every relay counts into them, a read
 * is a few HGETALLs per shard whatever the traffic): recipients accepted, delivered, deferred,
 * bounced and expired per minute, bounce reasons per minute (the bounce classifier's reason of
 * each bounced recipient's reply: `userunknown`, `mailboxfull`, …) and the top reasons per
 * destination domain. The counters reach back ACTIVITY_RETENTION_MS. `readRecentEvents` and
 * `messagesOfRecipient` find the messages of a recipient (and the tenants list its tenants) in
 * the event stream: at most ACTIVITY_MAX_EVENTS entries read per stream (newest first;
 * `truncated` says when the window held more), so a request's cost is bounded; the stream is a
 * window (events.stream_max_len), so `since` says how far back the answer really reaches.
 * Needs injected: a Redis client, the shards' keys.
 */
import type { RedisClient } from '@herald/delivery-core';
import {
  ACTIVITY_RETENTION_MS,
  type HeraldEvent,
  readActivityMinutes,
  readBouncesByDomain,
} from '@herald/delivery-core/events';
import type { ActivityKeys } from '@herald/delivery-core/keys';
import type { Activity } from './responses.js';

/** Entries read at most per stream (shard) for one answer. */
export const ACTIVITY_MAX_EVENTS = 20_000;
/** Entries read per XREVRANGE page. */
const PAGE_EVENTS = 2_000;
export const MS_PER_MINUTE = 60_000;
/** Reasons listed per domain, and domains listed. */
const TOP_REASONS = 5;
const TOP_DOMAINS = 20;

/** The minutes from `fromMs`'s to `nowMs`'s from the activity counters of every shard. */
export async function activitySummary(
  redis: RedisClient,
  shards: readonly ActivityKeys[],
  fromMs: number,
  nowMs: number,
): Promise<Activity> {
  const [minutes, byDomain] = await Promise.all([
    readActivityMinutes(redis, shards, fromMs, nowMs),
    readBouncesByDomain(redis, shards, fromMs, nowMs),
  ]);
  const top = [...byDomain]
    .map(([domain, counts]) => ({
      domain,
      bounced: [...counts.values()].reduce((a, b) => a + b, 0),
      reasons: [...counts]
        .map(([reason, n]) => ({ reason, count: n }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
        .slice(0, TOP_REASONS),
    }))
    .sort((a, b) => b.bounced - a.bounced || a.domain.localeCompare(b.domain))
    .slice(0, TOP_DOMAINS);
  return {
    from: minutes[0]?.minute ?? fromMs,
    kept_since: Math.floor((nowMs - ACTIVITY_RETENTION_MS) / MS_PER_MINUTE) * MS_PER_MINUTE,
    minutes: minutes.map(({ reasons: _, ...counts }) => counts),
    bounce_reasons: minutes.map((m) => ({ minute: m.minute, reasons: m.reasons })),
    top_reasons_by_domain: top,
  };
}

/** Reads the stream entries newer than `fromMs`, newest first, at most ACTIVITY_MAX_EVENTS a stream. */
export async function readRecentEvents(
  redis: RedisClient,
  keys: readonly string[],
  fromMs: number,
): Promise<{ events: HeraldEvent[]; truncated: boolean }> {
  const events: HeraldEvent[] = [];
  let truncated = false;
  for (const key of keys) {
    let end = '+';
    let read = 0;
    for (;;) {
      const page = (await redis.xrevrange(key, end, String(fromMs), 'COUNT', PAGE_EVENTS)) as [
        string,
        string[],
      ][];
      for (const [, fields] of page) {
        const json = fields[fields.indexOf('event') + 1];
        if (json) events.push(JSON.parse(json) as HeraldEvent);
      }
      read += page.length;
      if (page.length < PAGE_EVENTS) break;
      if (read >= ACTIVITY_MAX_EVENTS) {
        truncated = true;
        break;
      }
      end = `(${page.at(-1)![0]}`;
    }
  }
  return { events, truncated };
}

export interface RecipientMessage {
  id: string;
  tenant: string;
  from: string;
  accepted_at: number;
  /** The recipient's last outcome in the window (delivered, deferred, …), null while none. */
  state: string | null;
}

/** The messages in `events` accepted for `recipient` (case-insensitive), newest first. */
export function messagesOfRecipient(events: readonly HeraldEvent[], recipient: string): RecipientMessage[] {
  const wanted = recipient.toLowerCase();
  const found = new Map<string, RecipientMessage>();
  const last = new Map<string, { time: number; state: string }>();
  for (const event of events) {
    if (event.type === 'accepted' && event.recipients.some((r) => r.toLowerCase() === wanted))
      found.set(event.messageId, {
        id: event.messageId,
        tenant: event.tenant,
        from: event.from,
        accepted_at: event.time,
        state: null,
      });
    else if ('recipient' in event && event.messageId && event.recipient.toLowerCase() === wanted) {
      const seen = last.get(event.messageId);
      if (!seen || seen.time <= event.time)
        last.set(event.messageId, { time: event.time, state: event.type });
    }
  }
  return [...found.values()]
    .map((m) => ({ ...m, state: last.get(m.id)?.state ?? null }))
    .sort((a, b) => b.accepted_at - a.accepted_at);
}
