/**
 * The fan-out's pure part: which endpoint wants which event (its tenant, its event types, and
 * only events written since the endpoint exists), and `FanOutBuffer`, the events read from the
 * stream since the last commit, grouped per endpoint. A commit is due when an endpoint's group
 * reaches its `batchSize`, or `batchWait` after its first event, or CURSOR_SAVE_MS after entries
 * that nobody wanted moved the cursor; `take()` empties it into at most one batch per endpoint
 * (so batch_size and batch_wait bound a batch, they do not fill it) and the cursor to commit.
 * Also the retry schedule of a failed batch. Pure: the clock and randomness are passed in.
 */
import type { HeraldEvent, StreamEvent } from '../events/index.js';
import type { WebhookEndpoint } from './endpoints.js';

/** Entries nobody wanted still move the stored cursor this often, at most. */
export const CURSOR_SAVE_MS = 1_000;
/** Delay before retry n (1-based); the last repeats. ±RETRY_JITTER of each. */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000];
export const RETRY_JITTER = 0.2;

/** Milliseconds of a stream id ("ms-seq"): when the entry was written. */
export function streamIdTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** True when `endpoint` receives `event`, written to the stream as entry `id`. */
export function endpointWants(endpoint: WebhookEndpoint, id: string, event: HeraldEvent): boolean {
  return (
    'tenant' in event &&
    event.tenant === endpoint.tenant &&
    endpoint.events.includes(event.type) &&
    streamIdTime(id) >= endpoint.since
  );
}

/** The delay before retry `attempt` (1 after the first failure), jittered by `random()` in [0, 1). */
export function retryDelayMs(attempt: number, random: () => number, delays = RETRY_DELAYS_MS): number {
  const base = delays[Math.min(Math.max(attempt, 1), delays.length) - 1] ?? 0;
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

export interface PendingBatch {
  endpoint: WebhookEndpoint;
  /** The events' JSON as read from the stream, oldest first. */
  events: string[];
}

interface Group {
  endpoint: WebhookEndpoint;
  events: string[];
  since: number;
}

export class FanOutBuffer {
  private groups = new Map<string, Group>();
  private lastId: string | undefined;
  private movedAt: number | undefined;
  private full = false;

  constructor(private endpoints: readonly WebhookEndpoint[]) {}

  /** Endpoints for the events added from now on. */
  setEndpoints(endpoints: readonly WebhookEndpoint[]): void {
    this.endpoints = endpoints;
  }

  /** Adds one stream entry; true when a commit is due now (an endpoint's batch is full). */
  add({ id, streamId, event }: StreamEvent, nowMs: number): boolean {
    this.lastId = id;
    this.movedAt ??= nowMs;
    let json: string | undefined;
    for (const endpoint of this.endpoints) {
      if (!endpointWants(endpoint, streamId ?? id, event)) continue;
      json ??= JSON.stringify(event);
      let group = this.groups.get(endpoint.id);
      if (!group) {
        group = { endpoint, events: [], since: nowMs };
        this.groups.set(endpoint.id, group);
      }
      group.events.push(json);
      if (group.events.length >= endpoint.batchSize) this.full = true;
    }
    return this.full;
  }

  /** When the next commit is due (epoch ms), or undefined when nothing waits. */
  dueAt(): number | undefined {
    if (this.full) return 0;
    let due = this.movedAt === undefined ? undefined : this.movedAt + CURSOR_SAVE_MS;
    for (const group of this.groups.values()) {
      const at = group.since + group.endpoint.batchWaitMs;
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  /** Empties the buffer: one batch per endpoint with events, and the cursor they bring it to. */
  take(): { batches: PendingBatch[]; cursor: string | undefined } {
    const batches = [...this.groups.values()].map(({ endpoint, events }) => ({ endpoint, events }));
    const cursor = this.lastId;
    this.groups = new Map();
    this.lastId = undefined;
    this.movedAt = undefined;
    this.full = false;
    return { batches, cursor };
  }
}

/** A batch's request body: `{"events": [...]}` with each event's JSON as read from the stream. */
export function batchBody(events: readonly string[]): string {
  return `{"events":[${events.join(',')}]}`;
}
