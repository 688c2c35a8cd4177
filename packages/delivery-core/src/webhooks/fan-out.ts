/**
 * The fan-out: reads the event stream from the dispatcher's cursor (`tailEvents`, following),
 * groups what each endpoint wants into batches (batching.ts) and commits them: one MULTI queues
 * every batch into its endpoint's outbox and moves the cursor past the entries read, under WATCH
 * of the lease and the cursor (the transaction is refused if this relay lost the lease or the
 * cursor moved under it). So a restart re-reads exactly what was not committed: no batch is
 * skipped or made twice. It never waits on a sender: it only writes to Redis. An outbox at
 * OUTBOX_MAX_BATCHES sends new batches to the dead-letter list (logged, counted). When trimming
 * outran the cursor (`trimmedAfter`), events were lost before being read: logged as an error and
 * counted (`herald_webhook_stream_gaps_total`). On a sharded queue it reads every shard's stream
 * merged (events/merged.ts); the cursor is then a merged cursor, still one key in `{webhooks}`.
 */

import type { Logger } from 'pino';
import {
  joinCursor,
  newestCursor,
  type StreamCursor,
  type StreamEvent,
  splitCursor,
  tailEvents,
  trimmedAfter,
} from '../events/index.js';
import type { WebhookKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { batchBody, FanOutBuffer, streamIdTime } from './batching.js';
import type { WebhookEndpoint } from './endpoints.js';
import { newBatchId, OUTBOX_MAX_BATCHES, queueBatch } from './outbox.js';
import type { WebhookMeter } from './sender.js';

/** A commit whose WATCH failed (a lease renewal touched the key) is tried again this many times. */
const COMMIT_TRIES = 5;
/** Longest blocking read: how late a stop is noticed without a disconnect. */
const READ_BLOCK_MS = 1_000;

export interface FanOutDeps {
  /** A connection of its own: the blocking read holds it. */
  reader: RedisClient;
  /** A connection of its own for WATCH / MULTI (another EXEC on it would drop the WATCH). */
  control: RedisClient;
  keys: WebhookKeys;
  /** The event stream of each queue shard, in shard order. */
  streamKeys: readonly string[];
  cursor: StreamCursor;
  leaseToken: string;
  /** The endpoints now (the dispatcher refreshes the list). */
  endpoints(): readonly WebhookEndpoint[];
  /** A batch was queued for this endpoint. */
  queued(endpointId: string): void;
  meter: WebhookMeter;
  logger: Logger;
  now(): number;
}

/** The commit found the lease or the cursor not as this fan-out left them: stop and start over. */
export class FanOutFenced extends Error {}

const TICK = Symbol('tick');

export async function runFanOut(deps: FanOutDeps, signal: AbortSignal): Promise<void> {
  let cursor = await startPosition(deps);
  let endpoints = deps.endpoints();
  const buffer = new FanOutBuffer(endpoints);
  const entries = tailEvents(deps.reader, deps.streamKeys, {
    after: cursor,
    limit: Number.POSITIVE_INFINITY,
    follow: true,
    signal,
    blockMs: READ_BLOCK_MS,
  });
  const commit = async () => {
    const taken = buffer.take();
    if (taken.cursor === undefined) return;
    cursor = await commitBatches(deps, cursor, taken.cursor, taken.batches);
  };
  let next = entries.next();
  try {
    while (!signal.aborted) {
      if (deps.endpoints() !== endpoints) {
        endpoints = deps.endpoints();
        buffer.setEndpoints(endpoints);
      }
      const dueAt = buffer.dueAt();
      let read: IteratorResult<StreamEvent> | typeof TICK;
      if (dueAt === undefined) read = await next;
      else {
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<typeof TICK>((resolve) => {
          timer = setTimeout(() => resolve(TICK), Math.max(0, dueAt - deps.now()));
        });
        read = await Promise.race([next, tick]);
        clearTimeout(timer);
      }
      if (read === TICK) {
        await commit();
        continue;
      }
      if (read.done) break;
      next = entries.next();
      if (buffer.add(read.value, deps.now())) await commit();
    }
  } finally {
    void entries.return(undefined).catch(() => {});
    next.catch(() => {}); // the read in flight ends with the reader's disconnect
  }
}

/** Where reading starts: the stored cursor; the stream's end on the first start ever. */
async function startPosition(deps: FanOutDeps): Promise<string> {
  let cursor = await deps.cursor.load();
  if (cursor === undefined) {
    cursor = await newestCursor(deps.control, deps.streamKeys);
    await deps.cursor.save(cursor);
    return (await deps.cursor.load()) ?? cursor;
  }
  // A cursor saved with fewer shards names the streams added since by their beginning.
  const ids = splitCursor(cursor, deps.streamKeys.length);
  // Run-time endpoints want nothing older than themselves: skip what nobody can want.
  const endpoints = deps.endpoints();
  const floor = endpoints.length > 0 ? Math.min(...endpoints.map((e) => e.since)) : 0;
  const raised = ids.map((id) => (floor > streamIdTime(id) + 1 ? `${floor - 1}-0` : id));
  if (raised.some((id, i) => id !== ids[i]) || joinCursor(ids) !== cursor) {
    await deps.cursor.save(joinCursor(raised));
    return (await deps.cursor.load()) ?? cursor;
  }
  await reportGap(deps, cursor);
  return cursor;
}

async function reportGap(deps: FanOutDeps, cursor: string): Promise<void> {
  if (!(await trimmedAfter(deps.control, deps.streamKeys, cursor))) return;
  deps.meter.gap();
  deps.logger.error(
    { cursor },
    'webhooks: the event stream was trimmed past the dispatcher cursor; events after it were lost (raise events.stream_max_len)',
  );
}

/** One MULTI: every batch into its outbox (or dead-letter list when full), the cursor to `to`. */
async function commitBatches(
  deps: FanOutDeps,
  from: string,
  to: string,
  batches: readonly { endpoint: WebhookEndpoint; events: string[] }[],
): Promise<string> {
  const { control, keys } = deps;
  for (let tries = 0; tries < COMMIT_TRIES; tries++) {
    await control.watch(keys.lease, keys.cursor);
    const [holder, stored] = await control.mget(keys.lease, keys.cursor);
    if (holder !== deps.leaseToken || stored !== from) {
      await control.unwatch();
      throw new FanOutFenced(holder !== deps.leaseToken ? 'webhook lease lost' : 'webhook cursor moved');
    }
    const depths = batches.length > 0 ? await outboxDepths(control, keys, batches) : [];
    const now = deps.now();
    const tx = control.multi();
    const made: { endpoint: string; id: string; full: boolean }[] = [];
    batches.forEach(({ endpoint, events }, i) => {
      const full = (depths[i] ?? 0) >= OUTBOX_MAX_BATCHES;
      const batch = {
        id: newBatchId(now),
        endpoint: endpoint.id,
        tenant: endpoint.tenant,
        body: batchBody(events),
        events: events.length,
        createdAt: now,
      };
      queueBatch(tx, keys, batch, full ? `outbox full (${OUTBOX_MAX_BATCHES} batches)` : undefined);
      made.push({ endpoint: endpoint.id, id: batch.id, full });
    });
    deps.cursor.saveIn(tx, to);
    const replies = await tx.exec();
    if (replies === null) continue; // a watched key changed: look again
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    for (const { endpoint, id, full } of made) {
      if (!full) deps.queued(endpoint);
      else {
        deps.meter.deadLettered('outbox_full');
        deps.logger.error({ endpoint, batch: id }, 'webhook outbox full: new batch dead-lettered');
      }
    }
    await reportGap(deps, to);
    return to;
  }
  throw new FanOutFenced('webhook commit kept conflicting');
}

async function outboxDepths(
  control: RedisClient,
  keys: WebhookKeys,
  batches: readonly { endpoint: WebhookEndpoint }[],
): Promise<number[]> {
  const pipeline = control.pipeline();
  for (const { endpoint } of batches) pipeline.llen(keys.outbox(endpoint.id));
  return ((await pipeline.exec()) ?? []).map(([, n]) => Number(n ?? 0));
}
