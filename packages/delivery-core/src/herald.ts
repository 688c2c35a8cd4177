/**
 * createHerald: the library's front door. One Herald owns its Redis connections, spool, resolver,
 * SMTP pool, event sink and metrics; `send` enqueues a message (fields or raw) and resolves once
 * Redis acknowledged it; `startWorkers` runs delivery in this process; `close` stops everything,
 * Redis last. The relay daemon is built from the same object.
 */
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import {
  type HeraldConfig,
  type HeraldConfigInput,
  matchRoute,
  parseConfig,
  type Route,
  tenantPolicy,
} from './config/index.js';
import { DeliveryWorker } from './delivery/index.js';
import { createResolver, type Resolver } from './dns/index.js';
import { RedisEventSink } from './events/index.js';
import {
  connectOrFail,
  dkimFor,
  dmarcProblemFor,
  type EnqueuePreparedArgs,
  failureFollowUp,
  loadShaping,
  returnPathFor,
  spoolPrepared,
  tlsPolicyFor,
  toStaticRoute,
} from './herald-parts.js';
import { type SendInput, type SendResult, sendMessage } from './herald-send.js';
import { siteHoldKey, tenantParkKey } from './keys/index.js';
import { HeraldMetrics } from './metrics/index.js';
import { Spool } from './queue/index.js';
import { TenantReputation } from './reputation/index.js';
import { addListUnsubscribe } from './sender/index.js';
import {
  baseLimitsFromConfig,
  CONDITION_CACHE_MS,
  ConcurrencyWindows,
  DEFAULT_STREAM,
  ParkedJobs,
  reclaimNodeLeases,
  type Shaping,
  ShapingGate,
  SiteConnectionLeases,
  SiteState,
} from './shaping/index.js';
import { providerRules, siteForMxHosts, siteForRoute } from './sites/index.js';
import { SmtpPool } from './smtp/index.js';
import { SuppressionList } from './suppression/index.js';
import { DailyCap, LeasedSemaphore, NODE_SEPARATOR, RateLimiter } from './throttle/index.js';
import { settlesWithin } from './util/index.js';

/** Bound on each shutdown step that talks to Redis. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;
/** A PING slower than this counts as Redis unreachable (readiness, shutdown). */
const PING_TIMEOUT_MS = 1_000;

export type { SendInput, SendResult } from './herald-send.js';

export interface CreateHeraldOptions {
  logger?: Logger;
  /** Environment for REDIS_URL when `config` is not parsed yet. */
  env?: Record<string, string | undefined>;
  /**
   * This run of the node (config `node_id`): Heralds of one relay process (its delivery threads)
   * share it; default a new random one.
   */
  incarnation?: string;
}

export interface Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  readonly events: RedisEventSink;
  readonly metrics: HeraldMetrics;
  readonly spool: Spool;
  readonly resolver: Resolver;
  /** The per-tenant suppression lists (consulted by `send` and the relay at RCPT). */
  readonly suppression: SuppressionList;
  /** Site suspensions and rate cuts shared by every relay (automation rules, `herald site`). */
  readonly siteState: SiteState;
  /** Tenant reputation rates and bulk pauses, shared by every relay. */
  readonly reputation: TenantReputation;
  /** The shaping file in force (shaping.file over the shipped provider defaults). */
  readonly shaping: Shaping;
  /** The command connection (non-blocking; fails fast while Redis is down). */
  readonly redis: Redis;
  send(input: SendInput): Promise<SendResult>;
  /** Spools an already prepared body (the relay adds its own trace headers). */
  enqueuePrepared(args: EnqueuePreparedArgs): Promise<void>;
  startWorkers(): DeliveryWorker;
  /**
   * Why DMARC would fail for a message on Herald's path (no signing key and no return path
   * aligned with its From domain), or undefined; the relay refuses such mail for tenants with
   * `refuse_dmarc_fail`.
   */
  dmarcProblem(message: { tenant: string; from: string; body: Buffer }): string | undefined;
  /** Lifts a tenant's reputation pause and wakes its parked bulk jobs; true when it was paused. */
  resumeTenant(tenant: string, reason?: string): Promise<boolean>;
  /**
   * Lifts a site's suspension, rate cut and source suspensions now and wakes the jobs the
   * suspension held. True when there was something to lift.
   */
  resumeSite(site: string, reason?: string): Promise<boolean>;
  /** True when Redis answers PING. */
  ping(): Promise<boolean>;
  /** This run of the node; delivery threads of the same relay process are given the same one. */
  readonly incarnation: string;
  /**
   * With `node_id`: frees the connection leases a previous run of this node held (a crash), and
   * wakes the jobs parked for them. Call once at start, before any worker. Returns how many.
   */
  reclaimLeases(): Promise<number>;
  close(): Promise<void>;
}

export async function createHerald(
  input: HeraldConfig | HeraldConfigInput = {},
  options: CreateHeraldOptions = {},
): Promise<Herald> {
  const config = Object.isFrozen(input)
    ? (input as HeraldConfig)
    : parseConfig(input, { env: options.env ?? {}, source: 'createHerald' });
  // Read before connecting: a bad shaping file stops the start with its key path.
  const shaping = loadShaping(config);
  const logger = options.logger ?? pino({ level: config.events.log_level, base: { svc: 'herald' } });
  const dkim = dkimFor(config, logger);
  const redis = new Redis(config.redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    // Commands issued in the same event-loop turn (body reads, job completions of many
    // concurrent deliveries) share one socket write.
    enableAutoPipelining: true,
  });
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  await connectOrFail(redis, config.redis.url);

  const spool = new Spool(redis, config.redis.prefix, config.events.stream_max_len);
  const events = new RedisEventSink({
    redis,
    streamKey: spool.keys.events,
    streamMaxLen: config.events.stream_max_len,
    logger,
  });
  const metrics = new HeraldMetrics({ defaultMetrics: true, queue: spool });
  events.on(metrics.observe);
  const resolver = createResolver({
    ...(config.dns.servers.length ? { servers: [...config.dns.servers] } : {}),
    timeoutMs: config.dns.timeout,
    attempts: config.dns.attempts,
    cacheMaxEntries: config.dns.cache_size,
  });
  const d = config.delivery;
  const parked = new ParkedJobs(redis, config.redis.prefix, spool.queue, logger);
  const incarnation = options.incarnation ?? randomUUID();
  const semaphore = new LeasedSemaphore(redis, {
    keyPrefix: config.redis.prefix,
    leaseTtlMs: config.delivery.connection_lease_ttl,
    ...(config.node_id ? { holder: `${config.node_id}${NODE_SEPARATOR}${incarnation}` } : {}),
  });
  const limiter = new RateLimiter(redis, { keyPrefix: config.redis.prefix });
  const pool = new SmtpPool({
    leases: new SiteConnectionLeases(semaphore, parked, logger, limiter),
    ehloName: d.ehlo_hostname || osHostname(),
    timeouts: {
      connectMs: d.connect_timeout,
      greetingMs: d.greeting_timeout,
      commandMs: d.command_timeout,
      dataMs: d.data_timeout,
    },
    maxConnectionsPerHost: d.max_connections_per_host,
    maxMessagesPerConnection: d.max_messages_per_connection,
    idleTimeoutMs: d.idle_timeout,
  });
  const siteState = new SiteState(redis, config.redis.prefix, events);
  const suppression = new SuppressionList(redis, config.redis.prefix);
  const reputation = new TenantReputation(redis, config.redis.prefix, events);
  const workers: { worker: DeliveryWorker; connection: Redis }[] = [];

  // DKIM signs once, at intake, before the message is spooled (relay DATA, send(), DSNs). A
  // configured key that fails to sign is a local fault: nothing is spooled (the relay answers
  // 451 4.3.0, send() rejects with HERALD_DKIM_SIGN_FAILED), never an unsigned message.
  const signed = (body: Buffer, tenant: string) => (dkim ? dkim.signer.sign(body, tenant) : body);
  const enqueuePrepared: Herald['enqueuePrepared'] = async (args) =>
    spoolPrepared(spool, events, {
      ...args,
      // Bulk streams get one-click unsubscribe headers (before any signing, so they are signed).
      body: signed(
        addListUnsubscribe(args.body, tenantPolicy(config, args.tenant).list_unsubscribe, {
          stream: args.stream ?? DEFAULT_STREAM,
          recipients: args.recipients,
          messageId: args.id,
        }),
        args.tenant,
      ),
    });

  const herald: Herald = {
    config,
    logger,
    events,
    metrics,
    spool,
    resolver,
    suppression,
    siteState,
    reputation,
    shaping,
    redis,
    enqueuePrepared,
    send: (message) => sendMessage({ config, suppression, dkimStore: dkim?.store, enqueuePrepared }, message),
    startWorkers() {
      const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
      connection.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
      const worker = new DeliveryWorker({
        connection,
        prefix: spool.keys.bullmqPrefix,
        concurrency: d.concurrency,
        lockDurationMs: d.lock_duration,
        stalledIntervalMs: d.stalled_interval,
        logger,
        parked,
        afterFailures: failureFollowUp(config, {
          getBody: (id) => spool.getBody(id),
          enqueueDsn: ({ id, tenant, to, body }) =>
            enqueuePrepared({ id, tenant, from: '', recipients: [to], body, source: 'dsn' }),
          suppress: async (tenant, entries) => void (await suppression.addMany(tenant, entries)),
          countHardBounces: async (tenant, n) => {
            await reputation.count(tenant, 'hard', n);
            await reputation.evaluate(tenant, tenantPolicy(config, tenant));
          },
        }),
        deps: {
          spool,
          resolver,
          pool,
          events,
          retry: {
            scheduleMs: [...config.retry.schedule],
            jitter: config.retry.jitter,
            maxQueueLifetimeMs: config.retry.max_queue_lifetime,
          },
          routeFor: (domain) => toStaticRoute(matchRoute(config.routes as readonly Route[], domain)),
          mxPort: d.port,
          mxLimits: { addresses: d.mx_address_limit, sessions: d.mx_session_limit },
          tls: d.tls,
          tlsVerify: d.tls_verify,
          now: Date.now,
          ...returnPathFor(config),
          ...tlsPolicyFor(config, resolver),
          gate: new ShapingGate({
            shaping,
            base: baseLimitsFromConfig(config),
            siteOf: siteFinder(providerRules(shaping)),
            limiter,
            dailyCap: new DailyCap(redis, { keyPrefix: config.redis.prefix }),
            siteState,
            reputation,
            parked,
            windows: new ConcurrencyWindows(redis, config.redis.prefix),
            now: Date.now,
          }),
        },
      });
      worker.start();
      workers.push({ worker, connection });
      return worker;
    },
    dmarcProblem: (message) => dmarcProblemFor(config, dkim?.store, message),
    incarnation,
    reclaimLeases: async () =>
      config.node_id ? reclaimNodeLeases(semaphore, config.node_id, parked, logger) : 0,
    async resumeTenant(tenant, reason = 'operator') {
      const resumed = await reputation.resume(tenant, reason);
      await parked.wakeAll(tenantParkKey(tenant));
      return resumed;
    },
    async resumeSite(site, reason = 'operator') {
      const resumed = await siteState.resume(site, reason);
      await parked.wakeAll(siteHoldKey(site));
      // A relay that read the suspension just before it was lifted may hold a woken job again
      // until its cached condition expires: wake what was parked meanwhile once more after that.
      await new Promise((resolve) => setTimeout(resolve, CONDITION_CACHE_MS * 2));
      await parked.wakeAll(siteHoldKey(site));
      return resumed;
    },
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), PING_TIMEOUT_MS);
      });
      try {
        return (await Promise.race([redis.ping(), timeout])) === 'PONG';
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      // With Redis gone nothing in flight can finish its bookkeeping: skip the grace period.
      const graceMs = (await herald.ping()) ? undefined : 0;
      await Promise.all(workers.map(({ worker }) => worker.close(graceMs)));
      await pool.close();
      await settlesWithin(events.flush(), CLOSE_STEP_TIMEOUT_MS);
      await settlesWithin(spool.close(), CLOSE_STEP_TIMEOUT_MS);
      await resolver.close();
      for (const { connection } of workers) connection.disconnect();
      redis.disconnect();
    },
  };
  return herald;
}

/** The site of a destination for the shaping gate: its static route's, else its MX hosts'. */
function siteFinder(rules: ReturnType<typeof providerRules>) {
  return (hostnames: readonly string[], route?: { host: string; port: number }) =>
    route ? { site: siteForRoute(route) } : siteForMxHosts(hostnames, rules);
}
