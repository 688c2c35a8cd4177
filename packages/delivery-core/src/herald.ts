/**
 * createHerald: the library's front door. One Herald owns its Redis connections, spool, resolver,
 * SMTP pool, event sink and metrics; `send` enqueues a message (fields or raw) and resolves once
 * Redis acknowledged it; `startWorkers` runs delivery in this process; `close` stops everything,
 * Redis last. The relay daemon is built from the same object.
 */
import { hostname as osHostname } from 'node:os';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { checkAddress } from './address.js';
import {
  type HeraldConfig,
  type HeraldConfigInput,
  matchRoute,
  parseConfig,
  type Route,
  tenantPolicy,
} from './config/index.js';
import {
  DeliveryWorker,
  ParkedJobs,
  ShapingGate,
  SiteConnectionLeases,
  SiteState,
  tenantParkKey,
} from './delivery/index.js';
import { createResolver, type Resolver } from './dns/index.js';
import { HeraldError } from './errors/index.js';
import { RedisEventSink } from './events/index.js';
import {
  checkSenderDomains,
  connectOrFail,
  dkimFor,
  dmarcProblemFor,
  type EnqueuePreparedArgs,
  failureFollowUp,
  loadShaping,
  returnPathFor,
  screenForSend,
  spoolPrepared,
  tlsPolicyFor,
  toStaticRoute,
} from './herald-parts.js';
import {
  composeMessage,
  type MessageFields,
  prepareMessage,
  TRAFFIC_NAME_HINT,
  takeInstructions,
  trafficName,
} from './message/index.js';
import { HeraldMetrics } from './metrics/index.js';
import { newMessageId, Spool } from './queue/index.js';
import { TenantReputation } from './reputation/index.js';
import { addListUnsubscribe } from './sender/index.js';
import { baseLimitsFromConfig, DEFAULT_STREAM, type Shaping } from './shaping/index.js';
import { providerRules } from './sites/index.js';
import { SmtpPool } from './smtp/index.js';
import { SuppressionList } from './suppression/index.js';
import { DailyCap, LeasedSemaphore, RateLimiter } from './throttle/index.js';
import { settlesWithin } from './util/settle.js';

/** Bound on each shutdown step that talks to Redis. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;
/** A PING slower than this counts as Redis unreachable (readiness, shutdown). */
const PING_TIMEOUT_MS = 1_000;

export interface SendInput extends Partial<Omit<MessageFields, 'from' | 'to'>> {
  /** Envelope sender (and From: when composing). '' or '<>' is the null sender. */
  from: string;
  /** Envelope recipients (and To: when composing). */
  to: string | string[];
  /** A complete RFC 5322 message; when given, subject/text/html/headers are ignored. */
  raw?: Buffer | string;
  tenant?: string;
  /** Traffic stream (default `transactional`); wins over an X-Herald-Stream header in the message. */
  stream?: string;
  /** Campaign name; wins over an X-Herald-Campaign header in the message. */
  campaign?: string;
}

export interface SendResult {
  messageId: string;
  /** The Message-ID header of the spooled message. */
  messageIdHeader: string;
  accepted: string[];
  rejected: { address: string; code: number; enhanced: string; reason: string }[];
}

export interface CreateHeraldOptions {
  logger?: Logger;
  /** Environment for REDIS_URL when `config` is not parsed yet. */
  env?: Record<string, string | undefined>;
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
  const semaphore = new LeasedSemaphore(redis, {
    keyPrefix: config.redis.prefix,
    leaseTtlMs: config.delivery.connection_lease_ttl,
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
    async send(message) {
      const from = message.from === '<>' ? '' : message.from;
      if (from !== '' && checkAddress(from)) {
        throw new HeraldError(
          'HERALD_SEND_INVALID',
          `invalid sender address: ${JSON.stringify(message.from)}`,
        );
      }
      const stream = sendName(message, 'stream');
      const campaign = sendName(message, 'campaign');
      const accepted: string[] = [];
      const rejected: SendResult['rejected'] = [];
      for (const address of ([] as string[]).concat(message.to)) {
        const problem = checkAddress(address);
        if (problem) rejected.push({ address, code: 553, enhanced: '5.1.3', reason: problem });
        else accepted.push(address);
      }
      const tenant = message.tenant ?? 'default';
      const screened = await screenForSend(suppression, config, tenant, accepted, rejected);
      const id = newMessageId();
      if (screened.accepted.length === 0)
        return { messageId: id, messageIdHeader: '', accepted: screened.accepted, rejected };
      const raw =
        message.raw !== undefined
          ? Buffer.isBuffer(message.raw)
            ? message.raw
            : Buffer.from(message.raw, 'utf8')
          : await composeMessage({ ...message, from: message.from, to: message.to });
      // X-Herald-Stream / X-Herald-Campaign in the message are instructions: taken out here too.
      const taken = takeInstructions(raw);
      if (!taken.ok) throw new HeraldError('HERALD_SEND_INVALID', taken.problem);
      checkSenderDomains(config, tenant, from, taken.body);
      if (tenantPolicy(config, tenant).refuse_dmarc_fail) {
        const problem = dmarcProblemFor(config, dkim?.store, { tenant, from, body: taken.body });
        if (problem) throw new HeraldError('HERALD_SEND_INVALID', problem);
      }
      const prepared = prepareMessage(
        taken.body,
        { helo: 'api', clientAddress: '127.0.0.1', by: config.smtp.hostname, protocol: 'HTTP', id },
        new Date(),
      );
      await enqueuePrepared({
        id,
        from,
        recipients: screened.deliver,
        dropped: screened.dropped,
        body: prepared.body,
        tenant,
        source: 'api',
        stream: stream ?? taken.stream,
        campaign: campaign ?? taken.campaign,
      });
      return {
        messageId: id,
        messageIdHeader: prepared.messageIdHeader,
        accepted: screened.accepted,
        rejected,
      };
    },
    startWorkers() {
      const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
      connection.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
      const worker = new DeliveryWorker({
        connection,
        prefix: config.redis.prefix,
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
          tls: d.tls,
          tlsVerify: d.tls_verify,
          now: Date.now,
          ...returnPathFor(config),
          ...tlsPolicyFor(config, resolver),
          gate: new ShapingGate({
            shaping,
            base: baseLimitsFromConfig(config),
            rules: providerRules(shaping),
            limiter,
            dailyCap: new DailyCap(redis, { keyPrefix: config.redis.prefix }),
            siteState,
            reputation,
            parked,
            now: Date.now,
          }),
        },
      });
      worker.start();
      workers.push({ worker, connection });
      return worker;
    },
    dmarcProblem: (message) => dmarcProblemFor(config, dkim?.store, message),
    async resumeTenant(tenant, reason = 'operator') {
      const resumed = await reputation.resume(tenant, reason);
      await parked.wakeAll(tenantParkKey(tenant));
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

/** `input.stream` / `input.campaign` lower-cased; HERALD_SEND_INVALID when it is not a valid name. */
function sendName(input: SendInput, key: 'stream' | 'campaign'): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  const name = trafficName(value);
  if (name === undefined) {
    throw new HeraldError(
      'HERALD_SEND_INVALID',
      `invalid ${key} ${JSON.stringify(value)}: ${TRAFFIC_NAME_HINT}`,
    );
  }
  return name;
}
