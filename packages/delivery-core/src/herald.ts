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
import { createDelivery } from './delivery/index.js';
import { createResolver } from './dns/index.js';
import { RedisEventSink } from './events/index.js';
import { createExplainer } from './explain/index.js';
import { createFeedback } from './feedback/index.js';
import { createIntake } from './intake/index.js';
import { HeraldMetrics } from './metrics/index.js';
import { loadDkim, loadShaping } from './preflight.js';
import { queueStats, ShardRegistry, Spool } from './queue/index.js';
import { createQueueOps } from './queue-ops/index.js';
import { connectRedis } from './redis-connect.js';
import { TenantReputation } from './reputation/index.js';
import { createShapingRuntime } from './shaping/index.js';
import { providerRules, siteForMxHosts, siteForRoute } from './sites/index.js';
import { createStoryReader } from './story/index.js';
import { SuppressionList } from './suppression/index.js';
import { settlesWithin, withDeadline } from './util/index.js';
import { createWebhooks } from './webhooks/index.js';

/** Bound on each shutdown step that talks to Redis. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;
/** A PING slower than this counts as Redis unreachable (readiness, shutdown). */
const PING_TIMEOUT_MS = 1_000;
/** How long createHerald waits for Redis before failing. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000;

export type * from './herald-api.js';

import type { CreateHeraldOptions, Herald } from './herald-api.js';

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
  const shards = await openShards(redis, config, logger);
  const spool = new Spool(redis, prefix, {
    eventStreamMaxLen: config.events.stream_max_len,
    traceRetentionMs: config.events.trace_retention,
    shards,
  });
  const events = new RedisEventSink({
    redis,
    streamKey: (messageId) => (messageId === undefined ? spool.keys : spool.keysFor(messageId)).events,
    streamMaxLen: config.events.stream_max_len,
    logger,
    trace: {
      key: (id) => spool.keysFor(id).trace(id),
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
  const reputation = new TenantReputation(redis, prefix, events, Date.now, shards);

  const { intake, spoolOwn } = createIntake({ config, suppression, spool, events, dkim });
  const feedback = createFeedback({ config, redis, suppression, reputation, events, logger, shards });
  const incarnation = options.incarnation ?? randomUUID();
  const shapingRuntime = createShapingRuntime({
    config,
    redis,
    queueFor: (jobId) => spool.queueFor(jobId),
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
    onShardsGrew: (listener) => shards.onGrow(listener),
  });

  const queueOps = createQueueOps({ redis, prefix, spool, settleOperator: delivery.settleOperator });

  const ping = () => pingWithin(redis, PING_TIMEOUT_MS);
  return {
    config,
    logger,
    incarnation,
    shards,
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
    queueStats: (opts = {}) => queueStats(spool.allQueues(), opts),
    listQueue: queueOps.list,
    retryQueued: queueOps.retry,
    flushSite: queueOps.flush,
    deleteQueued: queueOps.delete,
    bounceQueued: queueOps.bounce,
    tenantStatus: (tenant) => reputation.status(tenant, tenantPolicy(config, tenant)),
    explain: createExplainer({ config, shaping, resolver, liveState: shapingRuntime.liveState }),
    messageStory: createStoryReader({
      redis,
      queueFor: (id) => spool.queueFor(id),
      keysFor: (id) => spool.keysFor(id),
      siteSuspendedUntil: async (site) => (await shapingRuntime.siteState.condition(site)).suspendedUntil,
    }),
    ping,
    async close() {
      // With Redis gone nothing in flight can finish its bookkeeping: skip the grace period.
      const graceMs = (await ping()) ? undefined : 0;
      shards.stop();
      await webhooks.stopDispatcher();
      await delivery.close(graceMs);
      await settlesWithin(events.flush(), CLOSE_STEP_TIMEOUT_MS);
      await settlesWithin(spool.close(), CLOSE_STEP_TIMEOUT_MS);
      await resolver.close();
      redis.disconnect();
    },
  };
}

/** Records this process's `queue.shards` in the registry and keeps the layout fresh. */
async function openShards(redis: Redis, config: HeraldConfig, logger: Logger): Promise<ShardRegistry> {
  const shards = await ShardRegistry.open(redis, config.redis.prefix, config.queue.shards);
  shards.start((err) => logger.debug({ err }, 'queue shard registry refresh failed'));
  return shards;
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
