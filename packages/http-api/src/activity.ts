/**
 * Activity over the last minutes, derived from the event stream (what Herald already records; no
 * counter of its own): recipients accepted, delivered, deferred, bounced and expired per minute,
 * bounce reasons per minute (the bounce classifier's reason of each bounced recipient's reply:
 * `userunknown`, `mailboxfull`, …) and the top reasons per destination domain (the events carry
 * the domain; the site is resolved from MX at delivery and not recorded with the outcome).
 * Also finds the messages of a recipient in the same window. Guarantees: at most
 * ACTIVITY_MAX_EVENTS entries read per stream (newest first; `truncated` says when the window
 * held more), so a request's cost is bounded; the stream is a window (events.stream_max_len),
 * so `since` says how far back the answer really reaches. Needs injected: a Redis client, the
 * stream keys (one per queue shard).
 */
import type { RedisClient } from '@herald/delivery-core';
import { retryView } from '@herald/delivery-core/bounce';
import type { HeraldEvent } from '@herald/delivery-core/events';

/** Entries read at most per stream (shard) for one answer. */
export const ACTIVITY_MAX_EVENTS = 20_000;
/** Entries read per XREVRANGE page. */
const PAGE_EVENTS = 2_000;
export const MS_PER_MINUTE = 60_000;
/** Reasons listed per domain, and domains listed. */
const TOP_REASONS = 5;
const TOP_DOMAINS = 20;

export const COUNTED = ['accepted', 'delivered', 'deferred', 'bounced', 'expired'] as const;
type Counted = (typeof COUNTED)[number];

export interface MinuteCounts extends Record<Counted, number> {
  /** Start of the minute, epoch ms. */
  minute: number;
}

export interface Activity {
  /** Oldest minute asked for (epoch ms). */
  from: number;
  /** Time of the oldest event read in the window (epoch ms), null when none. */
  since: number | null;
  minutes: MinuteCounts[];
  /** Per minute (same order as `minutes`): bounced recipients by reason. */
  bounce_reasons: { minute: number; reasons: Record<string, number> }[];
  /** Domains with the most bounces, each with its top reasons. */
  top_reasons_by_domain: { domain: string; bounced: number; reasons: { reason: string; count: number }[] }[];
  scanned: number;
  truncated: boolean;
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

/** Bins events into minutes from `fromMs` to `nowMs` (every minute present, zeros included). */
export function summarizeActivity(
  events: readonly HeraldEvent[],
  fromMs: number,
  nowMs: number,
  truncated: boolean,
): Activity {
  const first = Math.floor(fromMs / MS_PER_MINUTE) * MS_PER_MINUTE;
  const count = Math.floor((nowMs - first) / MS_PER_MINUTE) + 1;
  const minutes: MinuteCounts[] = Array.from({ length: count }, (_, i) => ({
    minute: first + i * MS_PER_MINUTE,
    accepted: 0,
    delivered: 0,
    deferred: 0,
    bounced: 0,
    expired: 0,
  }));
  const reasons = minutes.map(() => ({}) as Record<string, number>);
  const byDomain = new Map<string, Map<string, number>>();
  let since: number | null = null;
  for (const event of events) {
    since = since === null ? event.time : Math.min(since, event.time);
    const index = Math.floor((event.time - first) / MS_PER_MINUTE);
    const bin = minutes[index];
    if (!bin) continue;
    if (event.type === 'accepted') bin.accepted += event.recipients.length;
    else if (event.type === 'delivered' || event.type === 'deferred' || event.type === 'expired')
      bin[event.type] += 1;
    else if (event.type === 'bounced') {
      bin.bounced += 1;
      const reason = event.operator ? `operator_${event.operator}` : retryView(event.reply).reason;
      const perMinute = reasons[index]!;
      perMinute[reason] = (perMinute[reason] ?? 0) + 1;
      const domain = byDomain.get(event.domain) ?? new Map<string, number>();
      domain.set(reason, (domain.get(reason) ?? 0) + 1);
      byDomain.set(event.domain, domain);
    }
  }
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
    from: first,
    since,
    minutes,
    bounce_reasons: minutes.map((m, i) => ({ minute: m.minute, reasons: reasons[i]! })),
    top_reasons_by_domain: top,
    scanned: events.length,
    truncated,
  };
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
