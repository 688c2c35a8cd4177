/**
 * The queue's shards: `queue.shards` slots, each with the keys of its messages. Shard 0 is the
 * slot `{queue}` (the names of a single-slot installation, unchanged); shard i > 0 is
 * `{queue-i}`. Within a shard, every key the spool's enqueue transaction touches, and every key used together
 * with one of those, carries the hash tag QUEUE_TAG, so on Redis Cluster they all live in one slot
 * (like BullMQ's own queue, whose scripts touch many of its keys at once). That is BullMQ's
 * `delivery` queue (its prefix includes the tag), the spooled bodies and message records, the
 * event stream (the `accepted` event is written in the enqueue MULTI), the names of tenants VERP
 * carries hashed (added in the enqueue MULTI), the reputation counters
 * (`sent` is counted in the enqueue MULTI; `rates` MGETs every kind; `countOnce` pairs a counter
 * with a feedback marker), the feedback markers and the activity counters (per minute, written with
the events they count). Which shard a message is in follows from its
 * id (queue/shards.ts); keys not about one message (the shard registry) are in shard 0. Pure key
 * math.
 */

/** Shard 0's hash tag (ARCHITECTURE "Redis key layout"). */
export const QUEUE_TAG = '{queue}';
/** Most shards `queue.shards` allows: a message id carries its shard in one byte. */
export const MAX_QUEUE_SHARDS = 256;

/** The hash tag of queue shard `shard`: `{queue}` for 0, `{queue-<shard>}` after it. */
export function shardTag(shard: number): string {
  return shard === 0 ? QUEUE_TAG : `{queue-${shard}}`;
}

/** BullMQ's name of the delivery queue. */
export const DELIVERY_QUEUE = 'delivery';

/** `<prefix>:{queue}` (shard i: `<prefix>:{queue-i}`): BullMQ's prefix, the start of every key of the shard. */
export function queueSlot(prefix: string, shard = 0): string {
  return `${prefix}:${shardTag(shard)}`;
}

/**
 * The shard registry (hash in shard 0): `max`, the highest `queue.shards` any process used (every
 * worker and reader serves shards 0 … max-1, so a lowered count strands nothing), and `since`, the
 * time from which message ids carry their shard (older ids are all in shard 0).
 */
export function shardRegistryKey(prefix: string): string {
  return `${queueSlot(prefix)}:shards`;
}

export interface QueueKeys {
  /** Herald's `redis.prefix`. */
  prefix: string;
  /** The shard these keys are of. */
  shard: number;
  /** The prefix BullMQ is given: its keys are `<prefix>:{queue}:delivery:<name>`. */
  bullmqPrefix: string;
  /** The message as spooled (string). */
  body(messageId: string): string;
  /** The message record (hash). */
  message(messageId: string): string;
  /** Ids of the message's jobs not finished yet (set). */
  pendingJobs(messageId: string): string;
  /**
   * Operator marks of the message's jobs in flight (hash: destination domain → JSON mark; expires),
   * which delivery applies to the recipients still pending after the attempt (queue-ops).
   */
  operatorMarks(messageId: string): string;
  /**
   * The message's DSN report collector (hash; delivery/dsn-reports.ts): `meta` (the report's
   * envelope as JSON), `failure:<address>` / `success:<address>` (a recipient's report line, JSON,
   * recorded when its outcome is settled), `delay:<address>` (its delay notice was claimed: sent
   * or to be sent), `delay-line:<address>` (that notice's line, JSON, until it was spooled),
   * `sent:<kind>` (that report was spooled). Outlives the message's last job until its reports
   * are spooled.
   */
  dsnReports(messageId: string): string;
  /**
   * Messages whose last job finished with reports still to send (zset: message id scored by the
   * finish time, epoch ms, Redis server clock); the finishing worker sends them at once, a sweep
   * sends what a crash left (delivery/dsn-reports.ts).
   */
  dsnDue: string;
  /**
   * Messages with delay notices claimed and not yet spooled (zset: message id scored by the claim
   * time, epoch ms, Redis server clock); the claimer sends them at once, a sweep sends what a crash
   * left (delivery/dsn-reports.ts).
   */
  dsnDelayDue: string;
  /** Herald's event stream. */
  events: string;
  /**
   * The marker an event batch's MULTI sets (`<events>:batch:<id>`, expiring): a batch whose write
   * Redis did not answer is written again only without it (events/redis-sink.ts).
   */
  eventBatch(id: string): string;
  /**
   * The message's trace (list of event JSON, oldest first): every event naming the message, its
   * `accepted` event first (written in the enqueue MULTI); capped and expiring (events/trace.ts).
   */
  trace(messageId: string): string;
  /**
   * Names of the tenants whose VERP tokens carry a hash instead of the name (set; written in the
   * enqueue MULTI), so the bounce-processor can name the tenant of any token.
   */
  hashedTenants: string;
  /**
   * Jobs handed to an in-process delivery lane instead of BullMQ (zset: job id scored by its
   * lease's expiry, epoch ms); renewed while the attempt runs, re-queued to BullMQ when it expires
   * (queue/leases.ts).
   */
  leases: string;
  /** A leased job's record (string: JSON `{node, data}`), written with the lease, deleted with it. */
  lease(jobId: string): string;
  /** The shard's activity counters and recent site replies (events/activity.ts). */
  activity: ActivityKeys;
}

/**
 * Per-minute activity counters of a shard and the recent replies per site, written in the
 * pipeline or MULTI of the events they count (events/activity.ts), so in the shard's slot.
 * `minute` is the start of a UTC minute, epoch ms.
 */
export interface ActivityKeys {
  /** Hash: `accepted`, `delivered`, `deferred`, `bounced`, `expired`, `reason:<reason>` (bounced). */
  minute(minute: number): string;
  /** Hash: `<domain> <reason>` → bounced recipients of that destination domain. */
  bounces(minute: number): string;
  /** Hash: `<outcome>:<site>` → recipients delivered / deferred / bounced at the site. */
  sites(minute: number): string;
  /** List: the site's latest distinct 4xx/5xx replies (JSON), newest first, capped. */
  siteReplies(site: string): string;
}

export function activityKeys(prefix: string, shard = 0): ActivityKeys {
  const slot = queueSlot(prefix, shard);
  return {
    minute: (minute) => `${slot}:activity:${minute}`,
    bounces: (minute) => `${slot}:activity:${minute}:bounces`,
    sites: (minute) => `${slot}:activity:${minute}:sites`,
    siteReplies: (site) => `${slot}:site-replies:${site}`,
  };
}

export function queueKeys(prefix: string, shard = 0): QueueKeys {
  const slot = queueSlot(prefix, shard);
  return {
    prefix,
    shard,
    bullmqPrefix: slot,
    body: (id) => `${slot}:body:${id}`,
    message: (id) => `${slot}:msg:${id}`,
    pendingJobs: (id) => `${slot}:msg:${id}:jobs`,
    operatorMarks: (id) => `${slot}:msg:${id}:op`,
    dsnReports: (id) => `${slot}:msg:${id}:dsn`,
    dsnDue: `${slot}:dsn-due`,
    dsnDelayDue: `${slot}:dsn-delay-due`,
    events: `${slot}:events`,
    eventBatch: (id) => `${slot}:events:batch:${id}`,
    trace: (id) => `${slot}:msg:${id}:trace`,
    hashedTenants: `${slot}:verp-tenants`,
    leases: `${slot}:leases`,
    lease: (jobId) => `${slot}:lease:${jobId}`,
    activity: activityKeys(prefix, shard),
  };
}

/** What a reputation counter counts: accepted recipients, hard bounces, complaints. */
export type ReputationKind = 'sent' | 'hard' | 'complaint';

/** A tenant's reputation counter of `kind` in one hour bucket (epoch ms / 1 h), in one shard. */
export function reputationKey(
  prefix: string,
  tenant: string,
  kind: ReputationKind,
  bucket: number,
  shard = 0,
): string {
  return `${queueSlot(prefix, shard)}:rep:${tenant.toLowerCase()}:${kind}:${bucket}`;
}

/**
 * What a once-marker marks: a report acted on (`bounce`, `complaint`), or a bounce that named
 * none of the token's addresses (`unverified`: recorded once, apart, so a later verified report
 * about the same token still acts), or a hard bounce counted for one message × recipient by
 * either delivery's 5xx or a received report (`hard`: its "hash" is the address's SHA-256, so
 * both sides name it without the VERP key; feedback/hard-once.ts).
 */
export type FeedbackMarkerKind = 'bounce' | 'complaint' | 'unverified' | 'hard';

/**
 * The once-marker of a VERP token's report: one message × one recipient, per kind of report; in
 * the message's shard, with the counter it pairs with.
 */
export function feedbackMarkerKey(
  prefix: string,
  kind: FeedbackMarkerKind,
  messageId: string,
  recipientHash: string,
  shard = 0,
): string {
  return `${queueSlot(prefix, shard)}:feedback:${kind}:${messageId}:${recipientHash}`;
}
