/**
 * The message spool and the delivery queue. A message's body is stored once; each destination
 * domain gets one BullMQ job that references it. `enqueue` writes the body, the message record and
 * every job in one MULTI/EXEC transaction, so either all of it is in Redis or none is; it resolves
 * only after Redis acknowledged the EXEC (the relay's `250` waits for it). A body over 1 MiB is
 * written in pieces before the MULTI, with an expiry the MULTI removes (body-io.ts). `finishJob` is
 * idempotent and deletes the body when the message's last job finishes. A message's stream and
 * campaign go into its record and every job; jobs of a non-default stream get its BullMQ priority.
 * A tenant name VERP cannot carry inline is added to `<prefix>:{queue}:verp-tenants` in the same
 * transaction, so a bounce's hashed tenant can always be named. A message's `accepted` event goes
 * to the event stream and begins the message's trace (events/trace.ts) in the same transaction.
 * `marks` holds operators' decisions about jobs in flight (operator-marks.ts), deleted with the
 * message's last job.
 * An API send's Idempotency-Key answer is written in the same transaction too
 * (intake/idempotency.ts).
 * Sharded (`queue.shards`, shards.ts): a message and everything above (its staged body pieces,
 * its jobs' fast-lane leases) lives in the shard its id names, each shard with its own BullMQ
 * queue (prefix `<prefix>:{queue-i}`); a group commit is one MULTI per shard touched in that turn,
 * sent together. With a durability barrier (redis.durability: strict, durability.ts), the turn's
 * callers are answered only after the barrier round that follows every shard's EXEC (on a
 * cluster, the round of the shard's master).
 */
import { HeraldError } from '../errors/index.js';
import { DEFAULT_TRACE_RETENTION_MS } from '../events/index.js';
import { inOneWrite, RecordedMulti, type RedisClient } from '../redis/index.js';
import { withDeadline } from '../util/index.js';
import { isPiecewise, readBody, stageBody } from './body-io.js';
import { queueTransaction } from './bullmq-internals.js';
import type { DurabilityBarrier } from './durability.js';
import {
  type EnqueueContext,
  type EnqueueItem,
  queueBatchTotals,
  queueMessage,
  type Span,
} from './enqueue-multi.js';
import type { FastLaneBinding } from './fast-lane.js';
import { messageEndLua } from './finish-lua.js';
import { groupByDomain } from './ids.js';
import { JobLeases } from './leases.js';
import { OperatorMarks } from './operator-marks.js';
import { ShardQueues } from './shard-queues.js';
import { type ShardLayout, SINGLE_SHARD } from './shards.js';
import type { EnqueueResult, SpoolMessage } from './types.js';

const DEFAULT_EVENT_STREAM_MAX_LEN = 100_000;

export interface SpoolOptions {
  /** Cap for the event stream when `acceptedEvent` is written with a message (XADD MAXLEN ~). */
  eventStreamMaxLen?: number;
  /** Expiry of the trace the `accepted` event begins (config `events.trace_retention`). */
  traceRetentionMs?: number;
  /** Waited for after each turn's EXECs (one round for every shard; per master on a cluster) before its callers are answered (strict durability). */
  barrier?: DurabilityBarrier;
  /** The queue's shards (a ShardRegistry); absent: one shard. */
  shards?: { readonly layout: ShardLayout };
  /** A connection of BullMQ's queues of its own (shard-queues.ts says why); absent: `redis`. */
  queueRedis?: RedisClient;
}

export interface EnqueueOptions {
  /**
   * Deadline of each Redis step: each piece of a staged body (body-io.ts), then the transaction;
   * past it the enqueue rejects with DeadlineExceeded (the write may still complete). None: wait.
   */
  stepDeadlineMs?: number | undefined;
  /**
   * Called once the message's transaction succeeded (its accepted event is in the stream), also
   * when the caller no longer waits (its deadline passed) or the durability barrier failed it:
   * what the message is from then on (delivered like any other) does not depend on its caller.
   */
  onWritten?: () => void;
}

interface PendingEnqueue extends EnqueueItem {
  resolve(result: EnqueueResult): void;
  reject(err: unknown): void;
  onWritten: (() => void) | undefined;
}

/** Arguments a script passes to one Redis command via unpack at most (even: field, value pairs). */
const UNPACK_CHUNK = 1000;

/**
 * KEYS[1] pending-jobs set, KEYS[2] body, KEYS[3] message record, KEYS[4] operator marks, KEYS[5]
 * DSN report collector, KEYS[6] reports-due zset. ARGV[1] job id, ARGV[2] message id, ARGV[3..]
 * collector fields and values (field, value, …) written with the finish when this call removed
 * the job (an operator's bounce: its report lines, so a crash after the finish cannot lose them).
 * Removes the job from the message's pending set; when none remain, deletes the pending set,
 * record and marks, and the body too unless the message has reports to send (a collector): then
 * the body is kept for them and the message id goes into the due zset, scored by the server's
 * clock (ms).
 * Returns { 1 if the job was still pending else 0, jobs still pending (0 = message finished),
 * 1 if this call made the message's reports due else 0 }.
 */
const FINISH_JOB_LUA = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 then
  -- In pieces of ${UNPACK_CHUNK} arguments (field, value pairs): unpack's stack is bounded.
  for i = 3, #ARGV, ${UNPACK_CHUNK} do
    redis.call('HSET', KEYS[5], unpack(ARGV, i, math.min(i + ${UNPACK_CHUNK - 1}, #ARGV)))
  end
end
${messageEndLua({ pending: 'KEYS[1]', body: 'KEYS[2]', record: 'KEYS[3]', marks: 'KEYS[4]', collector: 'KEYS[5]', due: 'KEYS[6]' })}`;

/** A shard's transaction of one turn, executed: its messages and their replies (null: aborted). */
interface ShardCommit {
  shard: number;
  batch: PendingEnqueue[];
  spans: Span[];
  results: [Error | null, unknown][] | null;
  /** Why `results` is null when the MULTI threw (else the EXEC was aborted). */
  error?: unknown;
}

/** What an enqueue's caller is rejected with: a HeraldError as it is, anything else as Redis unavailable. */
function enqueueError(err: unknown): HeraldError {
  return err instanceof HeraldError
    ? err
    : new HeraldError('HERALD_REDIS_UNAVAILABLE', `enqueue failed: ${(err as Error).message}`, {
        cause: err,
      });
}

/** Rejects every caller of a failed transaction. */
function failAll(batch: readonly PendingEnqueue[], err: unknown): void {
  const error = enqueueError(err);
  for (const item of batch) item.reject(error);
}

export class Spool extends ShardQueues {
  /** Operators' decisions about jobs in flight (operator-marks.ts). */
  readonly marks: OperatorMarks;
  /** Leases of jobs handed to the fast lane (leases.ts). */
  readonly leases: JobLeases;
  private batch: PendingEnqueue[] = [];
  private fast: FastLaneBinding | undefined;

  private readonly eventStreamMaxLen: number;
  private readonly traceRetentionMs: number;
  private readonly barrier: DurabilityBarrier | undefined;

  constructor(redis: RedisClient, prefix: string, options: SpoolOptions = {}) {
    super(redis, prefix, options.shards ?? { layout: SINGLE_SHARD }, options.queueRedis);
    this.eventStreamMaxLen = options.eventStreamMaxLen ?? DEFAULT_EVENT_STREAM_MAX_LEN;
    this.traceRetentionMs = options.traceRetentionMs ?? DEFAULT_TRACE_RETENTION_MS;
    this.barrier = options.barrier;
    redis.defineCommand('heraldFinishJob', { numberOfKeys: 6, lua: FINISH_JOB_LUA });
    this.marks = new OperatorMarks(redis, (id) => this.keysFor(id));
    this.leases = new JobLeases(redis, this);
  }

  /**
   * From now on a job the lane has room for is leased and handed to it after the EXEC instead of
   * being added to BullMQ (fast-lane.ts); undefined turns the lane off.
   */
  useFastLane(binding: FastLaneBinding | undefined): void {
    this.fast = binding;
  }

  /**
   * Spools a message: body, message record and one job per destination domain, atomically.
   * Messages enqueued in the same event-loop turn share one MULTI/EXEC (group commit: one write
   * and one round trip for all of them); each caller still gets its own result or error.
   */
  async enqueue(message: SpoolMessage, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const groups = groupByDomain(message.recipients);
    if (groups.size === 0)
      throw new HeraldError('HERALD_SEND_NO_RECIPIENT', 'a message needs at least one recipient');
    const staged = isPiecewise(message.body.length);
    if (staged)
      await stageBody(
        this.redis,
        this.keysFor(message.id).body(message.id),
        message.body,
        options.stepDeadlineMs,
      );
    // A small body reaches the batch in the caller's own event-loop turn (no await before it).
    const committed = new Promise<EnqueueResult>((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(() => void this.commitBatch());
      this.batch.push({ message, groups, staged, resolve, reject, onWritten: options.onWritten });
    });
    return options.stepDeadlineMs === undefined
      ? committed
      : withDeadline(committed, options.stepDeadlineMs, 'enqueue');
  }

  /**
   * One MULTI per shard the turn's messages are in, sent together; then (strict durability) the
   * barrier after every shard's EXEC: one round on one server, one per master that took a shard's
   * writes on a cluster; then each caller is settled by its shard's EXEC and barrier outcome.
   */
  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    const byShard = new Map<number, PendingEnqueue[]>();
    for (const item of batch) {
      const shard = this.shardOf(item.message.id);
      const group = byShard.get(shard);
      if (group) group.push(item);
      else byShard.set(shard, [item]);
    }
    const fast = this.fast;
    // On one server the shards' raw transactions (jobs for the fast lane) leave in one socket write
    // (corked.ts); one holding a BullMQ job add is built after a microtask and leaves on its own.
    const commits = await inOneWrite(this.redis, () =>
      Promise.all([...byShard].map(([shard, items]) => this.commitShard(shard, items))),
    );
    // One barrier call per shard written, all in this synchronous stretch: they share one round
    // (per master on a cluster), and each shard's callers get its own master's outcome.
    const durable = commits.map(({ shard, results }) =>
      this.barrier && results ? this.barrier.afterCommit([this.shardKeys(shard).events]) : undefined,
    );
    const outcomes = await Promise.allSettled(durable);
    for (const [c, { batch: items, spans, results, error }] of commits.entries()) {
      const outcome = outcomes[c]!;
      if (!results) {
        const n = spans.reduce((sum, span) => sum + span.fast.length, 0);
        if (n > 0) fast?.lane.unreserve(n);
        failAll(
          items,
          error ?? new HeraldError('HERALD_REDIS_UNAVAILABLE', 'enqueue failed: transaction aborted'),
        );
        continue;
      }
      let offset = 0;
      items.forEach((item, i) => {
        const span = spans[i]!;
        const failed = results.slice(offset, offset + span.commands).find(([err]) => err);
        offset += span.commands;
        if (failed) {
          if (span.fast.length > 0) fast?.lane.unreserve(span.fast.length);
          item.reject(new HeraldError('HERALD_REDIS_UNAVAILABLE', `enqueue failed: ${failed[0]?.message}`));
          return;
        }
        // Written (and, without a barrier error, durably): the lane may start at once. A write the
        // barrier could not confirm is in Redis all the same, its leases included, so it is
        // delivered like a BullMQ job would be; only its caller hears 451 / 503 (the usual
        // duplicate when the client retries). Should a failover lose it, its job's end writes
        // nothing (a requeue needs the lease, leases.ts) and it is never bounced.
        if (span.fast.length > 0) fast?.lane.hand(span.fast, item.message.body);
        item.onWritten?.();
        if (outcome.status === 'fulfilled') item.resolve({ messageId: item.message.id, jobs: span.jobs });
        else item.reject(enqueueError(outcome.reason));
      });
    }
  }

  /** Builds and executes one shard's MULTI; a failure is kept in `results` (null) for the caller. */
  private async commitShard(shard: number, batch: PendingEnqueue[]): Promise<ShardCommit> {
    const keys = this.shardKeys(shard);
    const spans: Span[] = [];
    try {
      // Recorded, then sent raw on one server (no ioredis Command per queued command) or
      // replayed onto BullMQ's MULTI when a job add is among them (recorded-multi.ts).
      const recorded = new RecordedMulti();
      const multi = recorded.asCommander();
      const context: EnqueueContext = {
        prefix: this.prefix,
        eventStreamMaxLen: this.eventStreamMaxLen,
        traceRetentionMs: this.traceRetentionMs,
        fast: this.fast,
        queueOf: (n) => this.queueOf(n),
      };
      for (const item of batch) spans.push(queueMessage(multi, keys, item, context));
      queueBatchTotals(multi, keys, batch, this.prefix);
      const results = await recorded.exec(this.redis, () =>
        queueTransaction(this.queueOf(shard), this.redis),
      );
      return { shard, batch, spans, results };
    } catch (err) {
      return { shard, batch, spans, results: null, error: err };
    }
  }

  /** `size`: the size recorded at enqueue (job data); a large body is then read in pieces. */
  getBody(messageId: string, size?: number): Promise<Buffer | null> {
    return readBody(this.redis, this.keysFor(messageId).body(messageId), size);
  }

  /** Marks one job finished; returns how many jobs of its message are still pending. */
  async finishJob(messageId: string, jobId: string): Promise<number> {
    return (await this.claimFinish(messageId, jobId)).left;
  }

  /**
   * finishJob that also says whether this call finished the job (`claimed`: it was still
   * pending), so of two parties racing to end one job (a worker, an operator's delete) exactly
   * one goes on to record its recipients' outcomes; and whether it made the message's DSN reports
   * due (`reportsDue`: its last job, with reports recorded: the body stays until
   * `DsnReports.flush` sent them). `report`: DSN collector fields (`DsnReports.fieldsOf`, an
   * operator's bounce) written in the same script, only when this call claimed the job.
   */
  async claimFinish(
    messageId: string,
    jobId: string,
    report: readonly string[] = [],
  ): Promise<{ claimed: boolean; left: number; reportsDue: boolean }> {
    const run = (
      this.redis as unknown as Record<string, (...args: string[]) => Promise<[number, number, number]>>
    ).heraldFinishJob!;
    const keys = this.keysFor(messageId);
    const [removed, left, due] = await run.call(
      this.redis,
      keys.pendingJobs(messageId),
      keys.body(messageId),
      keys.message(messageId),
      keys.operatorMarks(messageId),
      keys.dsnReports(messageId),
      keys.dsnDue,
      jobId,
      messageId,
      ...report,
    );
    return { claimed: removed === 1, left, reportsDue: due === 1 };
  }

  /**
   * Whether a job is still pending (not finished); false once its message's last job finished
   * (the pending set is deleted with the body).
   */
  async isPending(messageId: string, jobId: string): Promise<boolean> {
    return (await this.redis.sismember(this.keysFor(messageId).pendingJobs(messageId), jobId)) === 1;
  }

  /** Ids of the message's jobs not finished yet (empty when the message is not queued). */
  pendingJobIds(messageId: string): Promise<string[]> {
    return this.redis.smembers(this.keysFor(messageId).pendingJobs(messageId));
  }

  /** Jobs per state over every shard; a leased job (fast lane) is in flight or about to be. */
  override async counts(): Promise<{
    waiting: number;
    active: number;
    delayed: number;
    prioritized: number;
  }> {
    const [c, leased] = await Promise.all([super.counts(), this.leases.count()]);
    return { ...c, active: c.active + leased };
  }
}
