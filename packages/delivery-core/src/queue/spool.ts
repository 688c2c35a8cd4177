/**
 * The message spool and the delivery queue. A message's body is stored once; each destination
 * domain gets one BullMQ job that references it. `enqueue` writes the body, the message record and
 * every job in one MULTI/EXEC transaction, so either all of it is in Redis or none is; it resolves
 * only after Redis acknowledged the EXEC (the relay's `250` waits for it). `finishJob` is
 * idempotent and deletes the body when the message's last job finishes. A message's stream and
 * campaign go into its record and every job; jobs of a non-default stream get its BullMQ priority.
 * A tenant name VERP cannot carry inline is added to `<prefix>:{queue}:verp-tenants` in the same
 * transaction, so a bounce's hashed tenant can always be named. A message's `accepted` event goes
 * to the event stream and begins the message's trace (events/trace.ts) in the same transaction.
 * `marks` holds operators' decisions about jobs in flight (operator-marks.ts), deleted with the
 * message's last job.
 * An API send's Idempotency-Key answer is written in the same transaction too
 * (intake/idempotency.ts).
 * Sharded (`queue.shards`, shards.ts): a message and everything above lives in the shard its id
 * names, each shard with its own BullMQ queue (prefix `<prefix>:{queue-i}`); a group commit is one
 * MULTI per shard touched in that turn, sent together, each caller settled by its shard's EXEC.
 */
import { Job } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { HeraldError } from '../errors/index.js';
import { DEFAULT_TRACE_RETENTION_MS, queueTraceWrite } from '../events/index.js';
import { idempotencyKeys, type QueueKeys, reputationKey } from '../keys/index.js';
import { REPUTATION_BUCKET_TTL_MS, reputationBucket } from '../reputation/index.js';
import { carriesTenantInline } from '../verp/index.js';
import { ADD_JOB_COMMANDS, addJobInMulti, queueTransaction } from './bullmq-internals.js';
import { groupByDomain } from './ids.js';
import { OperatorMarks } from './operator-marks.js';
import { storedStream, streamPriority } from './priority.js';
import { ShardQueues } from './shard-queues.js';
import { type ShardLayout, SINGLE_SHARD } from './shards.js';
import type { DeliveryJobData, EnqueueResult, SpoolMessage } from './types.js';

/** Job options: Herald schedules its own retries (moveToDelayed), BullMQ's only guard crashes. */
const JOB_ATTEMPTS_GUARD = 1_000_000;
const CRASH_BACKOFF_MS = 60_000;
const FAILED_JOB_RETENTION_S = 7 * 24 * 3600;
const JOB_OPTIONS = (jobId: string, priority: number) => ({
  jobId,
  // 0 is left out: BullMQ then adds the job to the wait list (addStandardJob), ahead of any
  // prioritized job; a priority selects addPrioritizedJob (prioritized set + priority counter).
  ...(priority > 0 ? { priority } : {}),
  attempts: JOB_ATTEMPTS_GUARD,
  backoff: { type: 'fixed' as const, delay: CRASH_BACKOFF_MS },
  removeOnComplete: true,
  removeOnFail: { age: FAILED_JOB_RETENTION_S },
});
/** Commands `queueMessage` adds to the MULTI: SET body + HSET record, then SADD + add-job per job. */
const COMMANDS_PER_MESSAGE = 2;
const DEFAULT_EVENT_STREAM_MAX_LEN = 100_000;
/** The accepted event's XADD to the stream; its trace write adds what `queueTraceWrite` says. */
const COMMANDS_PER_ACCEPTED_EVENT = 1;

export interface SpoolOptions {
  /** Cap for the event stream when `acceptedEvent` is written with a message (XADD MAXLEN ~). */
  eventStreamMaxLen?: number;
  /** Expiry of the trace the `accepted` event begins (config `events.trace_retention`). */
  traceRetentionMs?: number;
  /** The queue's shards (a ShardRegistry); absent: one shard. */
  shards?: { readonly layout: ShardLayout };
}
/** SADD to the pending-jobs set, then BullMQ's add-job script (bullmq-internals.ts). */
const COMMANDS_PER_JOB = 1 + ADD_JOB_COMMANDS;

interface PendingEnqueue {
  message: SpoolMessage;
  groups: Map<string, string[]>;
  resolve(result: EnqueueResult): void;
  reject(err: unknown): void;
}

/**
 * KEYS[1] pending-jobs set, KEYS[2] body, KEYS[3] message record, KEYS[4] operator marks.
 * ARGV[1] job id. Removes the job from the message's pending set; when none remain, deletes all
 * four keys. Returns { 1 if the job was still pending else 0, jobs still pending (0 = message
 * finished) }.
 */
const FINISH_JOB_LUA = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
local left = redis.call('SCARD', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) end
return {removed, left}`;

export class Spool extends ShardQueues {
  /** Operators' decisions about jobs in flight (operator-marks.ts). */
  readonly marks: OperatorMarks;
  private batch: PendingEnqueue[] = [];

  private readonly eventStreamMaxLen: number;
  private readonly traceRetentionMs: number;

  constructor(redis: Redis, prefix: string, options: SpoolOptions = {}) {
    super(redis, prefix, options.shards ?? { layout: SINGLE_SHARD });
    this.eventStreamMaxLen = options.eventStreamMaxLen ?? DEFAULT_EVENT_STREAM_MAX_LEN;
    this.traceRetentionMs = options.traceRetentionMs ?? DEFAULT_TRACE_RETENTION_MS;
    redis.defineCommand('heraldFinishJob', { numberOfKeys: 4, lua: FINISH_JOB_LUA });
    this.marks = new OperatorMarks(redis, (id) => this.keysFor(id));
  }

  /**
   * Spools a message: body, message record and one job per destination domain, atomically.
   * Messages enqueued in the same event-loop turn share one MULTI/EXEC (group commit: one write
   * and one round trip for all of them); each caller still gets its own result or error.
   */
  enqueue(message: SpoolMessage): Promise<EnqueueResult> {
    const groups = groupByDomain(message.recipients);
    if (groups.size === 0) {
      return Promise.reject(
        new HeraldError('HERALD_SEND_NO_RECIPIENT', 'a message needs at least one recipient'),
      );
    }
    return new Promise((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(() => void this.commitBatch());
      this.batch.push({ message, groups, resolve, reject });
    });
  }

  /** One MULTI per shard the turn's messages are in, sent together. */
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
    await Promise.all([...byShard].map(([shard, items]) => this.commitShard(shard, items)));
  }

  private async commitShard(shard: number, batch: PendingEnqueue[]): Promise<void> {
    const keys = this.shardKeys(shard);
    const failAll = (err: unknown) => {
      const error =
        err instanceof HeraldError
          ? err
          : new HeraldError('HERALD_REDIS_UNAVAILABLE', `enqueue failed: ${(err as Error).message}`, {
              cause: err,
            });
      for (const item of batch) item.reject(error);
    };
    let results: [Error | null, unknown][] | null;
    const spans: { commands: number; jobs: EnqueueResult['jobs'] }[] = [];
    try {
      const multi = await queueTransaction(this.queueOf(shard));
      for (const item of batch) spans.push(this.queueMessage(multi, keys, item.message, item.groups));
      this.countAccepted(multi, shard, batch);
      this.recordHashedTenants(multi, keys, batch);
      results = await multi.exec();
    } catch (err) {
      failAll(err);
      return;
    }
    if (!results) {
      failAll(new HeraldError('HERALD_REDIS_UNAVAILABLE', 'enqueue failed: transaction aborted'));
      return;
    }
    let offset = 0;
    batch.forEach((item, i) => {
      const span = spans[i]!;
      const failed = results.slice(offset, offset + span.commands).find(([err]) => err);
      offset += span.commands;
      if (failed)
        item.reject(new HeraldError('HERALD_REDIS_UNAVAILABLE', `enqueue failed: ${failed[0]?.message}`));
      else item.resolve({ messageId: item.message.id, jobs: span.jobs });
    });
  }

  /**
   * Counts the batch's accepted recipients per tenant for reputation rates, in the same
   * transaction (after every message's commands: their result offsets stay as they are).
   */
  private countAccepted(
    multi: ChainableCommander,
    shard: number,
    batch: readonly { message: SpoolMessage }[],
  ): void {
    const perTenant = new Map<string, number>();
    for (const { message } of batch)
      perTenant.set(message.tenant, (perTenant.get(message.tenant) ?? 0) + message.recipients.length);
    const bucket = reputationBucket(Date.now());
    for (const [tenant, n] of perTenant) {
      const key = reputationKey(this.prefix, tenant, 'sent', bucket, shard);
      multi.incrby(key, n).pexpire(key, REPUTATION_BUCKET_TTL_MS);
    }
  }

  /**
   * Adds the batch's tenants whose VERP tokens will carry a hash of the name to the set the
   * bounce-processor resolves such hashes through (feedback/record.ts), in the same transaction.
   */
  private recordHashedTenants(
    multi: ChainableCommander,
    keys: QueueKeys,
    batch: readonly { message: SpoolMessage }[],
  ): void {
    const hashed = new Set(batch.map(({ message }) => message.tenant).filter((t) => !carriesTenantInline(t)));
    if (hashed.size > 0) multi.sadd(keys.hashedTenants, ...hashed);
  }

  /** Adds one message's commands to `multi`; returns how many commands it queued. */
  private queueMessage(
    multi: ChainableCommander,
    keys: QueueKeys,
    message: SpoolMessage,
    groups: Map<string, string[]>,
  ): { commands: number; jobs: EnqueueResult['jobs'] } {
    const jobs: EnqueueResult['jobs'] = [];
    multi.set(keys.body(message.id), message.body);
    const stream = storedStream(message.stream);
    const traffic = {
      ...(stream ? { stream } : {}),
      ...(message.campaign ? { campaign: message.campaign } : {}),
    };
    const priority = streamPriority(stream);
    multi.hset(keys.message(message.id), {
      from: message.from,
      tenant: message.tenant,
      size: message.body.length,
      acceptedAt: message.acceptedAt,
      recipients: message.recipients.length,
      ...traffic,
    });
    let index = 0;
    for (const [domain, recipients] of groups) {
      const id = `${message.id}.${index++}`;
      jobs.push({ id, domain, recipients });
      multi.sadd(keys.pendingJobs(message.id), id);
      const data: DeliveryJobData = {
        messageId: message.id,
        tenant: message.tenant,
        from: message.from,
        domain,
        recipients: recipients.map((address) => ({ address, state: 'pending' })),
        attempts: 0,
        acceptedAt: message.acceptedAt,
        size: message.body.length,
        ...traffic,
      };
      const job = new Job<DeliveryJobData>(
        this.queueOf(keys.shard),
        domain,
        data,
        JOB_OPTIONS(id, priority),
        id,
      );
      // Queues the job's add script inside our MULTI (BullMQ's addBulk uses a plain pipeline).
      addJobInMulti(multi, job);
    }
    let commands = COMMANDS_PER_MESSAGE + COMMANDS_PER_JOB * jobs.length;
    if (message.acceptedEvent) {
      multi.xadd(
        keys.events,
        'MAXLEN',
        '~',
        String(this.eventStreamMaxLen),
        '*',
        'event',
        message.acceptedEvent,
      );
      commands += COMMANDS_PER_ACCEPTED_EVENT;
      commands += queueTraceWrite(multi, { type: 'accepted', messageId: message.id }, message.acceptedEvent, {
        key: keys.trace,
        retentionMs: this.traceRetentionMs,
      });
    }
    if (message.idempotency) {
      const { record, inFlight } = idempotencyKeys(this.prefix, message.idempotency.scope, keys.shard);
      multi.set(record, message.idempotency.value, 'PX', message.idempotency.ttlMs).del(inFlight);
      commands += 2;
    }
    return { commands, jobs };
  }

  getBody(messageId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keysFor(messageId).body(messageId));
  }

  /** Marks one job finished; returns how many jobs of its message are still pending. */
  async finishJob(messageId: string, jobId: string): Promise<number> {
    return (await this.claimFinish(messageId, jobId)).left;
  }

  /**
   * finishJob that also says whether this call finished the job (`claimed`: it was still
   * pending), so of two parties racing to end one job (a worker, an operator's delete) exactly
   * one goes on to record its recipients' outcomes.
   */
  async claimFinish(messageId: string, jobId: string): Promise<{ claimed: boolean; left: number }> {
    const run = (this.redis as unknown as Record<string, (...args: string[]) => Promise<[number, number]>>)
      .heraldFinishJob!;
    const keys = this.keysFor(messageId);
    const [removed, left] = await run.call(
      this.redis,
      keys.pendingJobs(messageId),
      keys.body(messageId),
      keys.message(messageId),
      keys.operatorMarks(messageId),
      jobId,
    );
    return { claimed: removed === 1, left };
  }

  /** Ids of the message's jobs not finished yet (empty when the message is not queued). */
  pendingJobIds(messageId: string): Promise<string[]> {
    return this.redis.smembers(this.keysFor(messageId).pendingJobs(messageId));
  }
}
