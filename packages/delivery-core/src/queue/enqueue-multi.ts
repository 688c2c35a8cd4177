/**
 * What one group-commit MULTI of the spool holds (spool.ts commits it): per message, `queueMessage`
 * queues SET body (PERSIST of a staged one), HSET record, per destination domain SADD to the
 * message's pending jobs and either BullMQ's add-job script or a fast-lane lease (the lane took a
 * slot), the `accepted` event's XADD and trace write, an Idempotency-Key answer, a released message's
 * quarantine record DEL and claim ZREM; after every
 * message, `queueBatchTotals` queues the batch's per-tenant `sent` counts, the accounts' behaviour
 * counters (behaviour/counters.ts, when intake marked the messages), its accepted recipients
 * per minute (events/activity.ts) and the tenants VERP carries hashed (after the messages, so each message's result offsets stay as counted).
 * Owns: nothing; builds commands only. Needs injected: the MULTI, the shard's keys, the context.
 */
import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { queueBehaviourCounts } from '../behaviour/index.js';
import { ActivityTally, queueTraceWrite } from '../events/index.js';
import { idempotencyKeys, type QueueKeys, reputationKey } from '../keys/index.js';
import { REPUTATION_BUCKET_TTL_MS, reputationBucket } from '../reputation/index.js';
import { isShared } from '../util/index.js';
import { carriesTenantInline } from '../verp/index.js';
import { FAST_LANE_MAX_BODY_BYTES, type FastJob, type FastLaneBinding } from './fast-lane.js';
import { addDeliveryJob } from './job-add.js';
import { JobLeases } from './leases.js';
import { storedStream } from './priority.js';
import type { DeliveryJobData, EnqueueResult, SpoolMessage } from './types.js';

/** Commands of every message: SET body (PERSIST of a staged one) + HSET record. */
const COMMANDS_PER_MESSAGE = 2;
/** The accepted event's XADD to the stream; its trace write adds what `queueTraceWrite` says. */
const COMMANDS_PER_ACCEPTED_EVENT = 1;

/** A message to write, with its recipients grouped by domain. */
export interface EnqueueItem {
  message: SpoolMessage;
  groups: Map<string, string[]>;
  /** The body is already in Redis with its staging expiry (body-io.ts): PERSIST, not SET. */
  staged: boolean;
}

/** What the spool lends the MULTI's building. */
export interface EnqueueContext {
  prefix: string;
  eventStreamMaxLen: number;
  traceRetentionMs: number;
  /** The fast lane when on: a job it has a slot for gets a lease instead of BullMQ's add. */
  fast: FastLaneBinding | undefined;
  queueOf(shard: number): Queue<DeliveryJobData>;
}

/** One message's commands in its shard's MULTI. */
export interface Span {
  commands: number;
  jobs: EnqueueResult['jobs'];
  fast: FastJob[];
}

/** Queues the batch's per-tenant counts and hashed VERP tenants (after every message's commands). */
export function queueBatchTotals(
  multi: ChainableCommander,
  keys: QueueKeys,
  batch: readonly { message: SpoolMessage }[],
  prefix: string,
): void {
  countAccepted(multi, prefix, keys.shard, batch);
  queueBehaviourCounts(
    multi,
    prefix,
    keys.shard,
    batch.map(({ message }) => message),
    Date.now(),
  );
  countActivity(multi, keys, batch);
  recordHashedTenants(multi, keys, batch);
}

/** Counts the batch's accepted events' recipients in the shard's per-minute activity (events/activity.ts). */
function countActivity(
  multi: ChainableCommander,
  keys: QueueKeys,
  batch: readonly { message: SpoolMessage }[],
): void {
  const tally = new ActivityTally(keys.activity);
  let any = false;
  for (const { message } of batch)
    if (message.acceptedEvent) {
      tally.accepted(message.acceptedAt, message.acceptedRecipients ?? message.recipients.length);
      any = true;
    }
  if (any) tally.queue(multi);
}

/**
 * Counts the batch's accepted recipients per tenant for reputation rates, in the same
 * transaction (after every message's commands: their result offsets stay as they are).
 */
function countAccepted(
  multi: ChainableCommander,
  prefix: string,
  shard: number,
  batch: readonly { message: SpoolMessage }[],
): void {
  const perTenant = new Map<string, number>();
  for (const { message } of batch)
    perTenant.set(message.tenant, (perTenant.get(message.tenant) ?? 0) + message.recipients.length);
  const bucket = reputationBucket(Date.now());
  for (const [tenant, n] of perTenant) {
    const key = reputationKey(prefix, tenant, 'sent', bucket, shard);
    multi.incrby(key, n).pexpire(key, REPUTATION_BUCKET_TTL_MS);
  }
}

/**
 * Adds the batch's tenants whose VERP tokens will carry a hash of the name to the set the
 * bounce-processor resolves such hashes through (feedback/record.ts), in the same transaction.
 */
function recordHashedTenants(
  multi: ChainableCommander,
  keys: QueueKeys,
  batch: readonly { message: SpoolMessage }[],
): void {
  const hashed = new Set(batch.map(({ message }) => message.tenant).filter((t) => !carriesTenantInline(t)));
  if (hashed.size > 0) multi.sadd(keys.hashedTenants, ...hashed);
}

/** Adds one message's commands to `multi`; returns how many it queued, its jobs and those the lane took. */
export function queueMessage(
  multi: ChainableCommander,
  keys: QueueKeys,
  { message, groups, staged }: EnqueueItem,
  context: EnqueueContext,
): Span {
  const jobs: EnqueueResult['jobs'] = [];
  const fast: FastJob[] = [];
  let commands = COMMANDS_PER_MESSAGE;
  if (staged) multi.persist(keys.body(message.id));
  else multi.set(keys.body(message.id), message.body);
  const stream = storedStream(message.stream);
  const traffic = {
    ...(stream ? { stream } : {}),
    ...(message.campaign ? { campaign: message.campaign } : {}),
  };
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
      recipients: recipients.map((address) => ({
        address,
        state: 'pending',
        ...message.dsn?.recipients?.[address.toLowerCase()],
      })),
      attempts: 0,
      acceptedAt: message.acceptedAt,
      size: message.body.length,
      ...traffic,
      ...(message.traceparent ? { traceparent: message.traceparent } : {}),
      ...(message.dsn?.ret ? { ret: message.dsn.ret } : {}),
      ...(message.dsn?.envid ? { envid: message.dsn.envid } : {}),
      ...(message.smtputf8 ? { smtputf8: true } : {}),
      ...(message.behaviour ? { account: message.behaviour.account } : {}),
      ...(message.ownDsn ? { ownDsn: true } : {}),
    };
    commands += 1;
    const lane =
      message.body.length <= FAST_LANE_MAX_BODY_BYTES || isShared(message.body) ? context.fast : undefined;
    if (lane?.lane.reserve()) {
      // In place of BullMQ's add: a lease (in the message's shard) the lane's holder renews.
      const record = { node: lane.node, data };
      commands += JobLeases.queueWrite(multi, keys, id, record, Date.now() + lane.leaseTtlMs);
      fast.push({ id, data });
    } else {
      // Queues the job's add script inside our MULTI (BullMQ's addBulk uses a plain pipeline).
      commands += addDeliveryJob(multi, context.queueOf(keys.shard), id, data);
    }
  }
  if (message.acceptedEvent) {
    multi.xadd(
      keys.events,
      'MAXLEN',
      '~',
      String(context.eventStreamMaxLen),
      '*',
      'event',
      message.acceptedEvent,
    );
    commands += COMMANDS_PER_ACCEPTED_EVENT;
    commands += queueTraceWrite(multi, { type: 'accepted', messageId: message.id }, message.acceptedEvent, {
      key: keys.trace,
      retentionMs: context.traceRetentionMs,
    });
  }
  if (message.idempotency) {
    const { record, inFlight } = idempotencyKeys(context.prefix, message.idempotency.scope, keys.shard);
    multi.set(record, message.idempotency.value, 'PX', message.idempotency.ttlMs).del(inFlight);
    commands += 2;
  }
  if (message.releasedFrom) {
    multi.del(message.releasedFrom.record).zrem(message.releasedFrom.claims, message.id);
    commands += 2;
  }
  return { commands, jobs, fast };
}
