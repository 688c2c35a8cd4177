/**
 * createHerald: the library's front door and composition root. It only wires: one Redis command
 * connection, the spool and event sink, then each capability builds itself from the parts it
 * needs — intake (`createIntake`: the one submission pipeline), feedback (`createFeedback`: what
 * follows a bounce or complaint), shaping (`createShapingRuntime`), delivery (`createDelivery`:
 * workers, shaping gate, pool) and explain (`createExplainer`: a delivery path as data) and story (`createStoryReader`: one message's story).
 * `Herald` offers verbs, not its parts: `send`, `recordFeedback`, `suspendSite` / `resumeSite`,
 * `pauseTenant` / `resumeTenant`, `startWorkers`, `reclaimLeases`, `ping`, `close` (webhook
 * dispatcher, workers, pool, events, spool, Redis last); the read-outs `queueStats`,
 * `tenantStatus`, `explain` and `messageStory` (plain data); the queue operations
 * (`createQueueOps`, plain data in and out) `listQueue`, `retryQueued`, `flushSite`,
 * `deleteQueued`, `bounceQueued`; plus `intake` for submission front ends (the relay's SMTP
 * listener), `suppression`, `webhooks` (`createWebhooks`: endpoints, dead letters, the
 * dispatcher), `events` and `metrics`. */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { mtaStsTlsPolicy } from './auth/index.js';
import { type HeraldConfig, type HeraldConfigInput, parseConfig, tenantPolicy } from './config/index.js';
import { createDelivery, type DeliveryWorker } from './delivery/index.js';
import { createResolver } from './dns/index.js';
import { RedisEventSink } from './events/index.js';
import { createExplainer, type DeliveryExplanation, type ExplainOptions } from './explain/index.js';
import { createFeedback, type FeedbackReport, type FeedbackResult } from './feedback/index.js';
import { createIntake, type Intake, type SendInput, type SendResult } from './intake/index.js';
import { HeraldMetrics } from './metrics/index.js';
import { loadDkim, loadShaping } from './preflight.js';
import { type QueueStats, queueStats, Spool } from './queue/index.js';
import {
  createQueueOps,
  type ListOptions,
  type QueueFilter,
  type QueuePage,
  type QueueTarget,
  type RemoveResult,
  type WakeResult,
} from './queue-ops/index.js';
import { connectRedis } from './redis-connect.js';
import { type PauseState, TenantReputation, type TenantStatus } from './reputation/index.js';
import { createShapingRuntime } from './shaping/index.js';
import { providerRules, siteForMxHosts, siteForRoute } from './sites/index.js';
import { createStoryReader, type MessageStory } from './story/index.js';
import { SuppressionList } from './suppression/index.js';
import { settlesWithin, withDeadline } from './util/index.js';
import { createWebhooks, type Webhooks, type WebhooksDeps } from './webhooks/index.js';

/** Bound on each shutdown step that talks to Redis. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;
/** A PING slower than this counts as Redis unreachable (readiness, shutdown). */
const PING_TIMEOUT_MS = 1_000;
/** How long createHerald waits for Redis before failing. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000;

export type { DeliveryExplanation, ExplainedSource, ExplainOptions } from './explain/index.js';
export type { FeedbackReport, FeedbackResult } from './feedback/index.js';
export type { SendInput, SendResult } from './intake/index.js';
export type { QueueStats, SiteQueueStats } from './queue/index.js';
export type {
  ListOptions,
  QueuedJob,
  QueueFilter,
  QueuePage,
  QueueTarget,
  RemoveResult,
  WakeResult,
} from './queue-ops/index.js';
export type { PauseState, ReputationRates, TenantStatus } from './reputation/index.js';
export type { LiveShapingState } from './shaping/index.js';
export type { AttemptStory, FeedbackStory, MessageStory, RecipientStory, Waiting } from './story/index.js';

export interface CreateHeraldOptions {
  logger?: Logger;
  /** Environment for REDIS_URL when `config` is not parsed yet. */
  env?: Record<string, string | undefined>;
  /**
   * This run of the node (config `node_id`): Heralds of one relay process (its delivery threads)
   * share it; default a new random one.
   */
  incarnation?: string;
  /** Webhook retry delays and lease TTL (tests make them short). */
  webhooks?: Pick<WebhooksDeps, 'retryDelaysMs' | 'leaseTtlMs'>;
}

export interface Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  /** This run of the node; delivery threads of the same relay process are given the same one. */
  readonly incarnation: string;
  readonly events: RedisEventSink;
  readonly metrics: HeraldMetrics;
  /** The per-tenant suppression lists (consulted at intake, fed by feedback, managed by `herald suppression`). */
  readonly suppression: SuppressionList;
  /** The submission pipeline, stage by stage, for front ends (the relay's SMTP listener). */
  readonly intake: Intake;
  /**
   * Webhook endpoints (list, add, remove), dead letters (list, replay) and the dispatcher
   * (`startDispatcher`, run by relays with the worker role; stopped by `close`).
   */
  readonly webhooks: Webhooks;
  /** Submits one message through the intake pipeline; resolves once Redis acknowledged it. */
  send(input: SendInput): Promise<SendResult>;
  /**
   * Acts on one bounce or complaint report (read by the bounce-processor): suppress, count once
   * per VERP token, evaluate the tenant, emit events. Rejects when Redis fails.
   */
  recordFeedback(report: FeedbackReport): Promise<FeedbackResult>;
  /** Suspends a site for every relay; resolves with when the suspension ends (epoch ms). */
  suspendSite(site: string, forMs: number, reason?: string): Promise<number>;
  /**
   * Lifts a site's suspension, rate cut and source suspensions now and wakes the jobs the
   * suspension held. True when there was something to lift.
   */
  resumeSite(site: string, reason?: string): Promise<boolean>;
  /** Pauses a tenant's bulk mail; undefined when it was paused already. */
  pauseTenant(tenant: string, reason?: string): Promise<PauseState | undefined>;
  /** Lifts a tenant's reputation pause and wakes its parked bulk jobs; true when it was paused. */
  resumeTenant(tenant: string, reason?: string): Promise<boolean>;
  startWorkers(): DeliveryWorker;
  /**
   * With `node_id`: frees the connection leases a previous run of this node held (a crash), and
   * wakes the jobs parked for them. Call once at start, before any worker. Returns how many.
   */
  reclaimLeases(): Promise<number>;
  /**
   * The delivery queue per site: ready, scheduled (retries, throttle waits), in flight, and the
   * age of the oldest message. The totals are exact; the per-site split reads at most `maxJobs`
   * jobs (default 100000; 0 for the totals alone) and says when it stopped (`truncated`).
   */
  queueStats(opts?: { maxJobs?: number }): Promise<QueueStats>;
  /**
   * A site's queued jobs (`provider:<name>`, `mx:<hosts>`, `route:<host>:<port>`, or
   * `domain:<name>`: every job to that domain), a page at a time in acceptance order; pass the
   * page's `next` as `after` for the next one.
   */
  listQueue(site: string, opts?: ListOptions): Promise<QueuePage>;
  /**
   * Retry now: jobs of one message (or job), a site, or the whole queue that wait for a retry, a
   * shaping wait or a slot are made ready now; they still pass the shaping gate.
   */
  retryQueued(target: QueueTarget): Promise<WakeResult>;
  /** Ignore a site's backoff once: its waiting jobs are ready now, within its limits; held jobs stay. */
  flushSite(site: string): Promise<WakeResult>;
  /**
   * Removes jobs (one message or job, or every job matching a filter); each pending recipient
   * ends `bounced` with `operator: 'delete'`, no DSN. Jobs in flight end so after their attempt.
   */
  deleteQueued(target: { messageId: string } | QueueFilter): Promise<RemoveResult>;
  /** As deleteQueued, with `operator: 'bounce'` and a DSN to the sender (one message, or a site). */
  bounceQueued(
    target: { messageId: string } | { site: string },
    opts?: { reason?: string },
  ): Promise<RemoveResult>;
  /** A tenant's reputation over its window, its thresholds, and its bulk pause, read now. */
  tenantStatus(tenant: string): Promise<TenantStatus>;
  /**
   * Where mail for `domain` goes and under which limits, as this config decides now: the static
   * route or the MX hosts (resolved now; HERALD_DNS_FAILED when that fails), the site, the source
   * pool and IP, each limit with the layer that set it, and the path's live shaping state.
   */
  explain(domain: string, opts?: ExplainOptions): Promise<DeliveryExplanation>;
  /**
   * One message's story (`herald message show`, `GET /v1/messages/{id}`): envelope, each
   * recipient's state and last reply, every attempt (MX host, IP, TLS, replies), feedback, and
   * why a recipient not finished waits. Read from the message's trace, so it outlives the message
   * for `events.trace_retention`. Undefined for an unknown (or expired) id; rejects when Redis fails.
   */
  messageStory(id: string): Promise<MessageStory | undefined>;
  /** True when Redis answers PING. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function createHerald(
  input: HeraldConfig | HeraldConfigInput = {},
  options: CreateHeraldOptions = {},
): Promise<Herald> {
  const config = Object.isFrozen(input)
    ? (input as HeraldConfig)
    : parseConfig(input, { env: options.env ?? {}, source: 'createHerald' });
  // Read before connecting: a bad shaping file or DKIM key stops the start with its key path.
  const shaping = loadShaping(config);
  const logger = options.logger ?? pino({ level: config.events.log_level, base: { svc: 'herald' } });
  const dkim = loadDkim(config, logger);
  const redis = await connectCommandRedis(config.redis.url, logger);
  const prefix = config.redis.prefix;
  const spool = new Spool(redis, prefix, {
    eventStreamMaxLen: config.events.stream_max_len,
    traceRetentionMs: config.events.trace_retention,
  });
  const events = new RedisEventSink({
    redis,
    streamKey: spool.keys.events,
    streamMaxLen: config.events.stream_max_len,
    logger,
    trace: {
      key: spool.keys.trace,
      retentionMs: config.events.trace_retention,
      maxEntries: config.events.trace_max_entries,
    },
  });
  const metrics = new HeraldMetrics({
    defaultMetrics: true,
    queue: spool,
    webhookOutboxes: { outboxDepths: () => webhooks.outboxDepths() },
  });
  events.on(metrics.observe);
  const webhooks = createWebhooks({
    redis,
    config,
    connect: () => connectOwnRedis(config.redis.url, logger),
    meter: metrics.webhookMeter,
    logger,
    ...options.webhooks,
  });
  const resolver = createResolver({
    ...(config.dns.servers.length ? { servers: [...config.dns.servers] } : {}),
    timeoutMs: config.dns.timeout,
    attempts: config.dns.attempts,
    cacheMaxEntries: config.dns.cache_size,
  });
  const suppression = new SuppressionList(redis, prefix);
  const reputation = new TenantReputation(redis, prefix, events);

  const { intake, spoolOwn } = createIntake({ config, suppression, spool, events, dkim });
  const feedback = createFeedback({ config, redis, suppression, reputation, events, logger });
  const incarnation = options.incarnation ?? randomUUID();
  const shapingRuntime = createShapingRuntime({
    config,
    redis,
    queue: spool.queue,
    events,
    shaping,
    reputation,
    logger,
    incarnation,
    siteOf: siteFinder(providerRules(shaping)),
  });
  const delivery = createDelivery({
    config,
    spool,
    events,
    resolver,
    shaping: shapingRuntime,
    tlsPolicy: mtaStsTlsPolicy(config, resolver),
    logger,
    enqueueDsn: ({ id, tenant, to, body }) =>
      spoolOwn({ id, tenant, from: '', recipients: [to], body, source: 'dsn' }),
    hardBounces: feedback.hardBounces,
  });

  const queueOps = createQueueOps({ redis, prefix, spool, settleOperator: delivery.settleOperator });

  const ping = () => pingWithin(redis, PING_TIMEOUT_MS);
  return {
    config,
    logger,
    incarnation,
    events,
    metrics,
    suppression,
    intake,
    webhooks,
    send: intake.send,
    recordFeedback: feedback.record,
    suspendSite: shapingRuntime.suspendSite,
    resumeSite: shapingRuntime.resumeSite,
    pauseTenant: (tenant, reason = 'operator') => reputation.pause(tenant, reason),
    resumeTenant: shapingRuntime.resumeTenant,
    startWorkers: delivery.startWorkers,
    reclaimLeases: shapingRuntime.reclaimLeases,
    queueStats: (opts = {}) => queueStats(spool.queue, opts),
    listQueue: queueOps.list,
    retryQueued: queueOps.retry,
    flushSite: queueOps.flush,
    deleteQueued: queueOps.delete,
    bounceQueued: queueOps.bounce,
    tenantStatus: (tenant) => reputation.status(tenant, tenantPolicy(config, tenant)),
    explain: createExplainer({ config, shaping, resolver, liveState: shapingRuntime.liveState }),
    messageStory: createStoryReader({
      redis,
      queue: spool.queue,
      keys: spool.keys,
      siteSuspendedUntil: async (site) => (await shapingRuntime.siteState.condition(site)).suspendedUntil,
    }),
    ping,
    async close() {
      // With Redis gone nothing in flight can finish its bookkeeping: skip the grace period.
      const graceMs = (await ping()) ? undefined : 0;
      await webhooks.stopDispatcher();
      await delivery.close(graceMs);
      await settlesWithin(events.flush(), CLOSE_STEP_TIMEOUT_MS);
      await settlesWithin(spool.close(), CLOSE_STEP_TIMEOUT_MS);
      await resolver.close();
      redis.disconnect();
    },
  };
}

/** The command connection: no offline queue, no retries per request, connected within a bound. */
function connectCommandRedis(url: string, logger: Logger): Promise<Redis> {
  return connectRedis(url, {
    timeoutMs: REDIS_CONNECT_TIMEOUT_MS,
    redis: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Commands issued in the same event-loop turn (body reads, job completions of many
      // concurrent deliveries) share one socket write.
      enableAutoPipelining: true,
    },
    onError: (err) => logger.debug({ err: err.message }, 'redis connection error'),
  });
}

/** A connection of a capability's own (a blocking read, a WATCH), without auto-pipelining. */
function connectOwnRedis(url: string, logger: Logger): Promise<Redis> {
  return connectRedis(url, {
    timeoutMs: REDIS_CONNECT_TIMEOUT_MS,
    redis: { enableOfflineQueue: false, maxRetriesPerRequest: 0 },
    onError: (err) => logger.debug({ err: err.message }, 'redis connection error'),
  });
}

async function pingWithin(redis: Redis, ms: number): Promise<boolean> {
  try {
    return (await withDeadline(redis.ping(), ms, 'Redis PING')) === 'PONG';
  } catch {
    return false;
  }
}

/** The site of a destination for the shaping gate: its static route's, else its MX hosts'. */
function siteFinder(rules: ReturnType<typeof providerRules>) {
  return (hostnames: readonly string[], route?: { host: string; port: number }) =>
    route ? { site: siteForRoute(route) } : siteForMxHosts(hostnames, rules);
}
