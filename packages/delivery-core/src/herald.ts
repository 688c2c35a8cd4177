/**
 * createHerald: the library's front door and composition root. It only wires: one Redis command
 * connection (and one for BullMQ's queues), the spool and event sink, then each capability builds itself from the parts it
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
 * dispatcher), `behaviour` (`createBehaviour`: compromised-account flags, when `behaviour` is
 * configured), `tlsReporting` (`createTlsReporting`: TLS report counters and sending, when
 * `tls_reporting.enabled`), `events` and `metrics`. The config in force and what is built from it (intake,
 * feedback, explain) live in `herald-live.ts`: `reloadConfig` swaps them whole (live reload).
 * Tracing (`telemetry`, started from `config.telemetry` unless given) is shut down last by close. */
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { mtaStsTlsPolicy } from './auth/index.js';
import { createBehaviour } from './behaviour/index.js';
import { type HeraldConfig, type HeraldConfigInput, parseConfig, tenantPolicy } from './config/index.js';
import { daneTlsPolicy } from './dane/index.js';
import { createDelivery } from './delivery/index.js';
import { createResolver } from './dns/index.js';
import { RedisEventSink, readAcceptedEvent } from './events/index.js';
import { createLiveConfig } from './herald-live.js';
import { DeliveryMeter, HeraldMetrics } from './metrics/index.js';
import { loadDkim, loadShaping } from './preflight.js';
import { createQuarantine } from './quarantine/index.js';
import {
  type DurabilityBarrier,
  openDurabilityBarrier,
  queueStats,
  ShardRegistry,
  Spool,
} from './queue/index.js';
import { createQueueOps } from './queue-ops/index.js';
import { masters, type RedisClient } from './redis/index.js';
import {
  connectRedis,
  createRedisClient,
  describeRedisTarget,
  type RedisTarget,
  redisTarget,
} from './redis-connect.js';
import { TenantReputation } from './reputation/index.js';
import { createShapingRuntime } from './shaping/index.js';
import { providerRules, siteForMxHosts, siteForRoute } from './sites/index.js';
import { createStoryReader } from './story/index.js';
import { SuppressionList } from './suppression/index.js';
import { startTelemetry } from './telemetry/index.js';
import { createTlsReporting } from './tlsrpt/index.js';
import { settlesWithin, withDeadline } from './util/index.js';
import { createWebhooks } from './webhooks/index.js';

/** Bound on each shutdown step that talks to Redis. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;
/** Bound on flushing batched spans at close (the exporter's own timeout may be longer). */
const TELEMETRY_FLUSH_TIMEOUT_MS = 5_000;
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
  // Off (no `telemetry.otlp`): the no-op tracer, no SDK module loaded.
  const telemetry =
    options.telemetry ??
    (await startTelemetry(config.telemetry, {
      process: options.telemetryProcess ?? 'herald',
      nodeId: config.node_id,
    }));
  const ownsTelemetry = options.telemetry === undefined;
  const target = redisTarget(config.redis);
  const redis = await connectCommandRedis(target, logger);
  const prefix = config.redis.prefix;
  const barrier = await openBarrier(config, redis, logger);
  const shards = await openShards(redis, config, logger).catch((err: unknown) => {
    barrier.close();
    redis.disconnect();
    throw err;
  });
  // BullMQ's queues get a connection of their own: the ~50 scripts BullMQ defines on the
  // connection it uses would otherwise be copied into every auto-pipeline of the command connection.
  const queueRedis = await connectCommandRedis(target, logger).catch((err: unknown) => {
    shards.stop();
    barrier.close();
    redis.disconnect();
    throw err;
  });
  const spool = new Spool(redis, prefix, {
    eventStreamMaxLen: config.events.stream_max_len,
    traceRetentionMs: config.events.trace_retention,
    barrier,
    shards,
    queueRedis,
  });
  const events = new RedisEventSink({
    redis,
    // An event naming no message (site, tenant, client) goes to shard 0's stream.
    streamKey: (messageId) =>
      (messageId === undefined ? spool.shardKeys(0) : spool.keysFor(messageId)).events,
    streamMaxLen: config.events.stream_max_len,
    logger,
    trace: {
      key: (id) => spool.keysFor(id).trace(id),
      retentionMs: config.events.trace_retention,
      maxEntries: config.events.trace_max_entries,
    },
    activity: (messageId) =>
      (messageId === undefined ? spool.shardKeys(0) : spool.keysFor(messageId)).activity,
  });
  const metrics = new HeraldMetrics({
    defaultMetrics: true,
    queue: spool,
    webhookOutboxes: { outboxDepths: () => webhooks.outboxDepths() },
    // Per-site queue gauges: a bounded scan, cached (metrics/site-queue-cache.ts).
    siteQueues: {
      queueStats: (opts) => queueStats(spool.allQueues(), { ...opts, leases: spool.leases }),
      suspendedUntil: async (site) => (await shapingRuntime.siteState.condition(site)).suspendedUntil,
    },
  });
  const deliveryMeter = new DeliveryMeter();
  if (options.countEvents !== false) events.on(metrics.observe);
  const webhooks = createWebhooks({
    redis,
    config,
    connect: () => connectOwnRedis(target, logger),
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
  // Held messages (the scan's quarantine action); a release goes through intake's enqueue.
  const quarantine = createQuarantine({
    redis,
    config,
    shards,
    // A hold answers 250 / 202 only once durable, as a spooled message does (strict).
    barrier,
    events,
    enqueue: (held, release) =>
      live.current().spoolOwn({
        id: held.id,
        from: held.from,
        recipients: held.recipients,
        body: held.body,
        tenant: held.tenant,
        source: held.source,
        stream: held.stream,
        campaign: held.campaign,
        dsn: held.dsn,
        smtputf8: held.smtputf8,
        released: release,
      }),
    // A deleted held message's DSN (quarantine.notify_sender), spooled as delivery's DSNs are.
    notify: {
      hostname: config.smtp.hostname,
      wantsDsn: (tenant) => tenantPolicy(live.current().config, tenant).dsn,
      newId: () => spool.newMessageId(),
      enqueueDsn: ({ id, tenant, to, body }) =>
        live.current().spoolOwn({ id, tenant, from: '', recipients: [to], body, source: 'dsn' }),
      onError: (err, messageId) =>
        logger.warn({ err, messageId }, 'quarantine: the DSN of a deleted message could not be spooled'),
    },
  });
  const reputation = new TenantReputation(redis, prefix, events, Date.now, shards);
  // Compromised-account detection (config `behaviour`): counts at enqueue, flags, held mail.
  const behaviour =
    config.behaviour &&
    createBehaviour({
      redis,
      prefix,
      behaviour: config.behaviour,
      events,
      shards,
      meter: metrics.behaviourMeter,
      onError: (err) =>
        logger.warn({ err: (err as Error).message }, 'behaviour: a pass, flag refresh or held count failed'),
    });
  // The flag cache and the passes serve intake; a delivery thread only counts bounces.
  if (options.takesSubmissions !== false) await behaviour?.start();

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
  // The config in force and what is built from it (herald-live.ts): a reload swaps it whole.
  const live = createLiveConfig(
    {
      redis,
      suppression,
      reputation,
      spool,
      events,
      logger,
      shards,
      resolver,
      shapingRuntime,
      siteOf: (next) => siteFinder(providerRules(next)),
      metrics,
      tracer: telemetry.tracer,
      quarantine: quarantine.store,
      behaviour,
    },
    { config, shaping, dkim },
  );
  // The fast lane's leases are held in this run's name; with node_id a restart takes back its
  // previous runs' leases at once (delivery/lease-reaper.ts).
  const nodeId = config.node_id;
  const leaseHolder = nodeId ? `${nodeId}|${incarnation}` : incarnation;
  // TLS policy of MX deliveries: DANE where validated TLSA records exist, else MTA-STS. DANE's
  // mode is per destination (shaping's `dane`, else delivery.dane.mode), so it is always wired.
  const sts = mtaStsTlsPolicy(config, resolver);
  const dane = daneTlsPolicy(config, resolver, sts);
  const delivery = createDelivery({
    live: () => live.current().config,
    ...(nodeId ? { takeBack: (node: string) => node.startsWith(`${nodeId}|`) && node !== leaseHolder } : {}),
    config,
    spool,
    redis,
    events,
    resolver,
    shaping: shapingRuntime,
    tlsPolicy: dane.tlsPolicy,
    logger,
    enqueueDsn: ({ id, tenant, to, body }) =>
      live.current().spoolOwn({ id, tenant, from: '', recipients: [to], body, source: 'dsn' }),
    hardBounces: (tenant, entries, account, messageId) =>
      live.current().feedback.hardBounces(tenant, entries, account, messageId),
    // BullMQ's blocking connection: its own, never giving up on a command (BullMQ's requirement),
    // and on a cluster riding out a failover (what BullMQ writes after a job must not fail then).
    workerConnection: () =>
      createRedisClient(target, { maxRetriesPerRequest: null, lazyConnect: false }, { rideFailovers: true }),
    onShardsGrew: (listener) => shards.onGrow(listener),
    meter: deliveryMeter,
    // Off: no tracer, so an attempt builds no span attributes for the no-op one (attempt-span.ts).
    ...(telemetry.enabled ? { tracer: telemetry.tracer } : {}),
  });
  metrics.addLocalDelivery(deliveryMeter, delivery.openConnectionsBySite);

  // TLS reports (RFC 8460): this process's attempt events counted; mailed reports go through send().
  const tlsReporting = createTlsReporting({
    config,
    // A delivery thread's events are counted where they are forwarded to (the relay's main thread).
    count: options.countEvents !== false,
    redis,
    resolver,
    events,
    logger,
    sendMail: async ({ from, to, raw, tenant }) => {
      const sent = await live.current().intake.send({ from, to, raw, tenant });
      const refused = sent.rejected[0];
      if (refused)
        throw new Error(`${refused.address}: ${refused.code} ${refused.enhanced} ${refused.reason}`);
    },
  });

  const queueOps = createQueueOps({
    redis,
    prefix,
    spool,
    operatorReport: delivery.operatorReport,
    settleOperator: delivery.settleOperator,
  });

  const ping = () => pingWithin(redis, PING_TIMEOUT_MS);
  return {
    get config() {
      return live.current().config;
    },
    get configHash() {
      return live.current().hash;
    },
    reloadConfig: (read, options) => live.reload(read, options?.livePaths),
    logger,
    incarnation,
    durability: barrier.mode,
    shards,
    events,
    metrics,
    suppression,
    get intake() {
      return live.current().intake;
    },
    webhooks,
    tlsReporting,
    quarantine,
    behaviour,
    send: (input) => live.current().intake.send(input),
    // A bounce report's 250 waits for its writes to be durable too (strict mode): they touch a
    // tenant's suppression slot and queue shards, so on a cluster every master is waited for.
    recordFeedback: async (input) => {
      const result = await live.current().feedback.record(input);
      await barrier.afterCommit();
      return result;
    },
    suspendSite: shapingRuntime.suspendSite,
    resumeSite: shapingRuntime.resumeSite,
    pauseTenant: (tenant, reason = 'operator') => reputation.pause(tenant, reason),
    resumeTenant: shapingRuntime.resumeTenant,
    startWorkers: delivery.startWorkers,
    startFastPath: delivery.startFastPath,
    deliverySnapshot: () => deliveryMeter.snapshot(delivery.openConnectionsBySite()),
    useFastLane: (lane) =>
      spool.useFastLane(lane && { lane, leaseTtlMs: config.delivery.lock_duration, node: leaseHolder }),
    reclaimLeases: shapingRuntime.reclaimLeases,
    queueStats: (opts = {}) => queueStats(spool.allQueues(), { ...opts, leases: spool.leases }),
    listQueue: queueOps.list,
    retryQueued: queueOps.retry,
    flushSite: queueOps.flush,
    deleteQueued: queueOps.delete,
    bounceQueued: queueOps.bounce,
    tenantStatus: (tenant) => reputation.status(tenant, tenantPolicy(live.current().config, tenant)),
    explain: (domain, opts) => live.current().explain(domain, opts),
    messageStory: createStoryReader({
      redis,
      queueFor: (id) => spool.queueFor(id),
      keysFor: (id) => spool.keysFor(id),
      leases: spool.leases,
      siteSuspendedUntil: async (site) => (await shapingRuntime.siteState.condition(site)).suspendedUntil,
    }),
    messageTraceparent: async (id) =>
      (await readAcceptedEvent(redis, spool.keysFor(id).trace(id)))?.traceparent,
    telemetry,
    ping,
    async close() {
      // With Redis gone nothing in flight can finish its bookkeeping: skip the grace period.
      const graceMs = (await ping()) ? undefined : 0;
      shards.stop();
      await webhooks.stopDispatcher();
      await tlsReporting?.stop();
      quarantine.stopSweeper();
      behaviour?.stop();
      await delivery.close(graceMs);
      // Event batches held through an outage get the step's time only while Redis answers.
      if (graceMs === 0) events.stop();
      await settlesWithin(events.settle(), CLOSE_STEP_TIMEOUT_MS);
      events.stop();
      await settlesWithin(spool.close(), CLOSE_STEP_TIMEOUT_MS);
      await dane.close();
      await resolver.close();
      barrier.close();
      queueRedis.disconnect();
      redis.disconnect();
      // Last: the spans of the work that just finished are flushed to the collector.
      if (ownsTelemetry) await settlesWithin(telemetry.shutdown(), TELEMETRY_FLUSH_TIMEOUT_MS);
    },
  };
}

/**
 * The strict-durability barrier (fast: none), its server wait bounded by the shorter of the
 * session deadlines (smtp / api redis_timeout); a server (on a cluster: any master) that cannot
 * keep strict stops the start.
 */
async function openBarrier(
  config: HeraldConfig,
  redis: RedisClient,
  logger: Logger,
): Promise<DurabilityBarrier> {
  const target = redisTarget(config.redis);
  try {
    return await openDurabilityBarrier({
      durability: config.redis.durability,
      redis,
      connect: () => connectOwnRedis(target, logger),
      prefix: config.redis.prefix,
      timeoutMs: Math.min(config.smtp.redis_timeout, config.api?.redis_timeout ?? config.smtp.redis_timeout),
      where: describeRedisTarget(target),
      logger,
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}

/** Records this process's `queue.shards` in the registry and keeps the layout fresh. */
async function openShards(redis: RedisClient, config: HeraldConfig, logger: Logger): Promise<ShardRegistry> {
  const shards = await ShardRegistry.open(redis, config.redis.prefix, config.queue.shards);
  shards.start((err) => logger.debug({ err }, 'queue shard registry refresh failed'));
  return shards;
}

/** The command connection: no offline queue, no retries per request, connected within a bound. */
function connectCommandRedis(target: RedisTarget, logger: Logger): Promise<RedisClient> {
  return connectRedis(target, {
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
function connectOwnRedis(target: RedisTarget, logger: Logger): Promise<RedisClient> {
  return connectRedis(target, {
    timeoutMs: REDIS_CONNECT_TIMEOUT_MS,
    redis: { enableOfflineQueue: false, maxRetriesPerRequest: 0 },
    onError: (err) => logger.debug({ err: err.message }, 'redis connection error'),
  });
}

/** PONG from the server, or from every master of a cluster, within `ms`. */
async function pingWithin(redis: RedisClient, ms: number): Promise<boolean> {
  try {
    const pongs = await withDeadline(
      Promise.all(masters(redis).map((node) => node.ping())),
      ms,
      'Redis PING',
    );
    return pongs.length > 0 && pongs.every((pong) => pong === 'PONG');
  } catch {
    return false;
  }
}

/** The site of a destination for the shaping gate: its static route's, else its MX hosts'. */
function siteFinder(rules: ReturnType<typeof providerRules>) {
  return (hostnames: readonly string[], route?: { host: string; port: number }) =>
    route ? { site: siteForRoute(route) } : siteForMxHosts(hostnames, rules);
}
