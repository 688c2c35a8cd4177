/**
 * The default event sink: each event becomes one pino log line and one entry (field `event`, a
 * JSON string) in the Redis stream `<prefix>:{queue}:events` (keys/queue.ts), capped near `streamMaxLen` (XADD MAXLEN ~).
 * Listeners registered with `on` see every event in-process (tests, metrics, webhooks later).
 * Stream writes are batched: every event emitted in one event-loop turn goes out in one pipeline
 * (one socket write), which matters at thousands of events per second. With `trace`, an event naming
 * a message is also appended to that message's trace in the same pipeline (trace.ts). On a
 * sharded queue (`queue.shards`) each shard has its stream: an event naming a message goes to its
 * message's shard (where its `accepted` event and trace are), any other event to shard 0's; one
 * MULTI per shard written (a Redis Cluster transaction keeps to one slot). With `activity`, the
 * batch's outcomes are also counted per minute and site in the same MULTI (activity.ts).
 * A batch is written once: its MULTI also sets a marker key (`<stream>:batch:<id>`, keys/queue.ts),
 * and a batch whose write failed because Redis did not answer (the connection broke with the batch
 * on the wire, or was down) or refused for want of memory (`maxmemory` under `noeviction`: OOM,
 * nothing of the MULTI ran) is tried again as Redis comes back, for EVENT_WRITE_RETRY_WINDOW_MS —
 * unless its marker says the lost try took effect. So an outage neither loses nor doubles a stream
 * entry (webhooks read the stream); past the window, past MAX_RETRYING_EVENTS held, or at `stop`,
 * the batch is dropped with an error log (the JSON log has every event).
 */

import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { Logger } from 'pino';
import type { ActivityKeys } from '../keys/index.js';
import {
  inOneWrite,
  isRedisFull,
  isRedisOutage,
  outageStopController,
  RecordedMulti,
  type RedisClient,
  rideOutage,
} from '../redis/index.js';
import { ActivityTally } from './activity.js';
import { queueTraceWrites, type TraceOptions, traceMessageId, trimTrace } from './trace.js';
import { type EventSink, eventSubject, type HeraldEvent } from './types.js';

/** How long a batch whose write Redis did not answer is tried again (an outage longer than this loses it). */
export const EVENT_WRITE_RETRY_WINDOW_MS = 5 * 60_000;
/** A batch's marker outlives every try of it. */
export const EVENT_BATCH_MARKER_TTL_MS = EVENT_WRITE_RETRY_WINDOW_MS + 60_000;
/** A write worth holding for a retry: Redis did not answer it, or was full (nothing of it ran). */
const retryable = (err: unknown): boolean => isRedisOutage(err) || isRedisFull(err);

/** Events held for a retry at most (memory through a long outage); a batch past it is dropped. */
export const MAX_RETRYING_EVENTS = 20_000;

export interface RedisEventSinkOptions {
  redis: RedisClient;
  /** The stream, or of a sharded queue the stream of an event's message (none: shard 0's). */
  streamKey: string | ((messageId: string | undefined) => string);
  streamMaxLen: number;
  logger: Logger;
  /** Per-message traces; absent: the stream only. */
  trace?: TraceOptions;
  /** The activity counters of an event's stream's shard (activity.ts); absent: not counted. */
  activity?: (messageId: string | undefined) => ActivityKeys;
}

interface PendingEvent {
  event: HeraldEvent;
  json: string;
  messageId: string | undefined;
  type: HeraldEvent['type'];
  /** A deferral's next attempt: the trace is kept at least until then (trace.ts). */
  nextAttemptAt?: number;
}

export class RedisEventSink implements EventSink {
  private readonly listeners = new Set<(event: HeraldEvent) => void>();
  private pending = new Set<Promise<unknown>>();
  /** Batches waiting for Redis to come back, and how many events they hold. */
  private retrying = new Set<Promise<unknown>>();
  private retryingEvents = 0;
  private readonly stopping = outageStopController();
  /** Marker ids: a random run id and a counter (unique across processes and threads). */
  private readonly run = randomBytes(8).toString('hex');
  private batches = 0;
  private batch: PendingEvent[] = [];

  constructor(private readonly options: RedisEventSinkOptions) {}

  on(listener: (event: HeraldEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Hands `event` to the in-process listeners only: no log line, no stream write. For events
   * already logged and written elsewhere (the relay's delivery threads forward theirs here).
   */
  dispatch(event: HeraldEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.options.logger.error({ err }, 'event listener failed');
      }
    }
  }

  emit(event: HeraldEvent): void {
    this.announce(event);
    if (this.batch.length === 0) setImmediate(() => this.writeBatch());
    this.batch.push({
      event,
      json: JSON.stringify(event),
      messageId: traceMessageId(event),
      type: event.type,
      ...('nextAttemptAt' in event && event.nextAttemptAt ? { nextAttemptAt: event.nextAttemptAt } : {}),
    });
  }

  /** Logs and dispatches an event whose stream record was already written (e.g. in the enqueue). */
  announce(event: HeraldEvent): void {
    const { logger } = this.options;
    const level =
      event.type === 'attempt'
        ? 'debug'
        : event.type === 'bounced' || event.type === 'expired'
          ? 'warn'
          : 'info';
    if (logger.isLevelEnabled(level)) {
      const subject = eventSubject(event);
      logger[level](
        { event },
        `${event.type} ${subject}${'recipient' in event ? ` ${event.recipient}` : ''}`,
      );
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        logger.error({ err }, 'event listener failed');
      }
    }
  }

  /**
   * Queues the stream, trace and activity writes of `events` — all naming one message — into the
   * caller's transaction (which must be in that message's shard slot), so they commit with the
   * caller's own writes; the caller `announce`s them once it has committed. Answers the number of
   * commands queued.
   */
  queueInto(multi: ChainableCommander, events: readonly HeraldEvent[]): number {
    const { streamKey, streamMaxLen, trace } = this.options;
    const batch = events.map((event) => ({
      event,
      json: JSON.stringify(event),
      messageId: traceMessageId(event),
      type: event.type,
    }));
    const messageId = batch[0]?.messageId;
    const key = typeof streamKey === 'string' ? streamKey : streamKey(messageId);
    for (const { json } of batch) multi.xadd(key, 'MAXLEN', '~', String(streamMaxLen), '*', 'event', json);
    let commands = batch.length;
    if (trace) commands += queueTraceWrites(multi, batch, trace, 0).commands;
    if (this.options.activity) {
      const tally = new ActivityTally(this.options.activity(messageId));
      for (const { event } of batch) tally.add(event);
      commands += tally.queue(multi);
    }
    return commands;
  }

  /**
   * Resolves when every event emitted so far has had its first write (written, failed, or held
   * for a retry while Redis is away: `settle` waits for those too).
   */
  async flush(): Promise<void> {
    this.writeBatch();
    await Promise.all([...this.pending]);
  }

  /** `flush`, then waits for the batches held for a retry (at most EVENT_WRITE_RETRY_WINDOW_MS). */
  async settle(): Promise<void> {
    await this.flush();
    await Promise.all([...this.retrying]);
  }

  /** Gives up the batches held for a retry (logged as dropped); no further retry is started. */
  stop(): void {
    this.stopping.abort();
  }

  private writeBatch(): void {
    if (this.batch.length === 0) return;
    const { streamKey } = this.options;
    const batch = this.batch;
    this.batch = [];
    if (typeof streamKey === 'string') {
      this.writeShard(streamKey, batch);
      return;
    }
    const byStream = new Map<string, PendingEvent[]>();
    for (const item of batch) {
      const key = streamKey(item.messageId);
      const group = byStream.get(key);
      if (group) group.push(item);
      else byStream.set(key, [item]);
    }
    // On one server the shard streams' transactions leave in one socket write (corked.ts).
    inOneWrite(this.options.redis, () => {
      for (const [key, items] of byStream) this.writeShard(key, items);
    });
  }

  private writeShard(streamKey: string, batch: readonly PendingEvent[]): void {
    const { logger } = this.options;
    const marker = `${streamKey}:batch:${this.run}.${(this.batches++).toString(36)}`;
    const write = this.commit(streamKey, batch, marker)
      .then(
        (results) => this.written(results),
        (err: unknown) => {
          if (retryable(err)) this.retry(streamKey, batch, marker, err);
          else logger.error({ err }, 'event stream write failed');
        },
      )
      .catch((err: unknown) => logger.error({ err }, 'event stream write failed'));
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  /** The batch's MULTI: stream entries, trace pushes, activity counts, then its marker. */
  private commit(streamKey: string, batch: readonly PendingEvent[], marker: string): Promise<CommitResults> {
    const { redis, streamMaxLen, trace } = this.options;
    // Recorded, then sent raw on one server (redis/recorded-multi.ts), ioredis' MULTI on a cluster.
    const recorded = new RecordedMulti();
    const multi = recorded.asCommander();
    const maxLen = String(streamMaxLen);
    for (const { json } of batch) multi.xadd(streamKey, 'MAXLEN', '~', maxLen, '*', 'event', json);
    // Index in the transaction's results of each trace push, with its message id: one push per
    // message per batch (trace.ts queueTraceWrites).
    const pushes = trace ? queueTraceWrites(multi, batch, trace, batch.length).pushes : [];
    // After the stream and trace writes, so their result offsets stay as counted.
    if (this.options.activity) {
      const tally = new ActivityTally(this.options.activity(batch[0]?.messageId));
      for (const { event } of batch) tally.add(event);
      tally.queue(multi);
    }
    multi.set(marker, '1', 'PX', EVENT_BATCH_MARKER_TTL_MS);
    return recorded.exec(redis, () => redis.multi()).then((results) => ({ results, pushes }));
  }

  /** Logs a command the server refused, and trims the traces the batch took over their cap. */
  private async written({ results, pushes }: CommitResults): Promise<void> {
    const { redis, logger, trace } = this.options;
    const failed = results?.find(([err]) => err);
    if (failed) logger.error({ err: failed[0] }, 'event stream write failed');
    if (!trace || !results) return;
    const over = new Set<string>();
    for (const { index: at, messageId } of pushes)
      if (Number(results[at]?.[1]) > trace.maxEntries) over.add(messageId);
    await Promise.all([...over].map((id) => trimTrace(redis, trace.key(id), trace.maxEntries)));
  }

  /**
   * Holds a batch whose write Redis did not answer (or refused, full) and writes it once Redis takes it —
   * unless its marker is there (the lost try took effect) — within EVENT_WRITE_RETRY_WINDOW_MS.
   */
  private retry(streamKey: string, batch: readonly PendingEvent[], marker: string, err: unknown): void {
    const { redis, logger } = this.options;
    const lost = { err: (err as Error)?.message, events: batch.length };
    if (this.stopping.signal.aborted || this.retryingEvents + batch.length > MAX_RETRYING_EVENTS) {
      logger.error(lost, 'event stream write failed; events dropped (too many held, or stopping)');
      return;
    }
    logger.warn(
      lost,
      isRedisFull(err)
        ? 'event stream write failed: Redis is full (maxmemory); written again when it takes writes'
        : 'event stream write failed; written again when Redis answers',
    );
    this.retryingEvents += batch.length;
    const again = rideOutage(
      async () => ((await redis.exists(marker)) === 1 ? undefined : this.commit(streamKey, batch, marker)),
      { windowMs: EVENT_WRITE_RETRY_WINDOW_MS, signal: this.stopping.signal, retryable },
    )
      .then((results) => (results ? this.written(results) : undefined))
      .catch((e: unknown) =>
        logger.error({ ...lost, err: (e as Error)?.message }, 'event stream write failed; events dropped'),
      )
      .finally(() => {
        this.retryingEvents -= batch.length;
        this.retrying.delete(again);
      });
    this.retrying.add(again);
  }
}

interface CommitResults {
  results: [error: Error | null, result: unknown][] | null;
  pushes: readonly { index: number; messageId: string }[];
}

/** Reads events back from the stream (oldest first), e.g. for tests and `herald events`. */
export async function readEvents(
  redis: RedisClient,
  streamKey: string,
  count = 10_000,
): Promise<HeraldEvent[]> {
  const entries = await redis.xrange(streamKey, '-', '+', 'COUNT', count);
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as HeraldEvent);
}
