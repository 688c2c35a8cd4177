/**
 * createDelivery: the delivery capability built from the parts it needs — the SMTP pool with its
 * leased connection slots, the shaping gate (limits, warm-up, site suspensions, tenant pauses),
 * MX or static routes, VERP return paths, MTA-STS — and the worker factory over them. Offers the
 * verbs around delivery: start workers, reclaim a crashed run's leases, suspend / resume a site,
 * resume a tenant (waking the jobs each held), and close (workers, then the pool).
 * Needs injected: the config, the command connection, spool, event sink, resolver, shaping file in
 * force, tenant reputation, the incarnation, and what follows a failure (DSNs, hard bounces).
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MtaStsPolicies } from '../auth/mta-sts.js';
import { type HeraldConfig, matchRoute, parseHostPort, type Route, tenantPolicy } from '../config/index.js';
import type { Resolver } from '../dns/index.js';
import { HeraldError } from '../errors/index.js';
import type { RedisEventSink } from '../events/index.js';
import { newMessageId, type Spool } from '../queue/index.js';
import type { TenantReputation } from '../reputation/index.js';
import { baseLimitsFromConfig, type Shaping } from '../shaping/index.js';
import { providerRules } from '../sites/index.js';
import { SmtpPool } from '../smtp/index.js';
import { DailyCap, LeasedSemaphore, NODE_SEPARATOR, RateLimiter } from '../throttle/index.js';
import { encodeVerp, verpSettings } from '../verp/index.js';
import { ConcurrencyWindows } from './concurrency.js';
import { ParkedJobs, reclaimNodeLeases, SiteConnectionLeases } from './connection-leases.js';
import { type FollowUpDeps, followUpFailures, type SuppressionEntryInput } from './follow-up.js';
import type { StaticRoute } from './hosts.js';
import { siteHoldKey, tenantParkKey } from './keys.js';
import type { DeliveryDeps } from './process.js';
import { ShapingGate } from './shaping-gate.js';
import { CONDITION_CACHE_MS, SiteState } from './site-state.js';
import { DeliveryWorker } from './worker.js';

/** Default port of a route's `via` when it names none. */
const ROUTE_PORT = 25;

export interface DeliveryParts {
  config: HeraldConfig;
  redis: Redis;
  spool: Spool;
  events: RedisEventSink;
  resolver: Resolver;
  shaping: Shaping;
  reputation: TenantReputation;
  logger: Logger;
  /** This run of the node: with `node_id`, connection leases are held in its name. */
  incarnation: string;
  /** Spools a DSN (Herald's own mail, from the null sender). */
  enqueueDsn(dsn: { id: string; tenant: string; to: string; body: Buffer }): Promise<void>;
  /** Hard-bounced recipients: suppress, count, evaluate the tenant (feedback). */
  hardBounces(tenant: string, entries: SuppressionEntryInput[]): Promise<void>;
}

export interface Delivery {
  /** Site suspensions and rate cuts shared by every relay (automation rules, `herald site`). */
  readonly siteState: SiteState;
  startWorkers(): DeliveryWorker;
  reclaimLeases(): Promise<number>;
  suspendSite(site: string, forMs: number, reason?: string): Promise<number>;
  resumeSite(site: string, reason?: string): Promise<boolean>;
  resumeTenant(tenant: string, reason?: string): Promise<boolean>;
  /** Stops the workers (in-flight deliveries get `graceMs`, default theirs) and the SMTP pool. */
  close(graceMs?: number): Promise<void>;
}

export function createDelivery(parts: DeliveryParts): Delivery {
  const { config, redis, spool, events, resolver, logger } = parts;
  const d = config.delivery;
  const parked = new ParkedJobs(redis, config.redis.prefix, spool.queue, logger);
  const semaphore = new LeasedSemaphore(redis, {
    keyPrefix: config.redis.prefix,
    leaseTtlMs: d.connection_lease_ttl,
    ...(config.node_id ? { holder: `${config.node_id}${NODE_SEPARATOR}${parts.incarnation}` } : {}),
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
  const workers: { worker: DeliveryWorker; connection: Redis }[] = [];
  const followUp: FollowUpDeps = {
    getBody: (id) => spool.getBody(id),
    enqueueDsn: parts.enqueueDsn,
    suppress: parts.hardBounces,
    hostname: config.smtp.hostname,
    wantsDsn: (tenant) => tenantPolicy(config, tenant).dsn,
    newId: () => newMessageId(),
    now: Date.now,
  };
  const wakeSite = (site: string) => parked.wakeAll(siteHoldKey(site));

  return {
    siteState,
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
        afterFailures: (data, failures) => followUpFailures(data, failures, followUp),
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
            shaping: parts.shaping,
            base: baseLimitsFromConfig(config),
            rules: providerRules(parts.shaping),
            limiter,
            dailyCap: new DailyCap(redis, { keyPrefix: config.redis.prefix }),
            siteState,
            reputation: parts.reputation,
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
    reclaimLeases: async () =>
      config.node_id ? reclaimNodeLeases(semaphore, config.node_id, parked, logger) : 0,
    suspendSite: (site, forMs, reason = 'operator') => siteState.suspend(site, forMs, reason),
    async resumeSite(site, reason = 'operator') {
      const resumed = await siteState.resume(site, reason);
      await wakeSite(site);
      // A relay that read the suspension just before it was lifted may hold a woken job again
      // until its cached condition expires: wake what was parked meanwhile once more after that.
      await new Promise((resolve) => setTimeout(resolve, CONDITION_CACHE_MS * 2));
      await wakeSite(site);
      return resumed;
    },
    async resumeTenant(tenant, reason = 'operator') {
      const resumed = await parts.reputation.resume(tenant, reason);
      await parked.wakeAll(tenantParkKey(tenant));
      return resumed;
    },
    async close(graceMs) {
      await Promise.all(workers.map(({ worker }) => worker.close(graceMs)));
      await pool.close();
      for (const { connection } of workers) connection.disconnect();
    },
  };
}

export function toStaticRoute(route: Route | undefined): StaticRoute | undefined {
  if (!route) return undefined;
  return { match: route.match, via: parseHostPort(route.via, ROUTE_PORT), tls: route.tls, auth: route.auth };
}

/**
 * Delivery's `tlsPolicy` when delivery.mta_sts is enabled: receiving domains' MTA-STS policies
 * (RFC 8461), cached per Herald; `ca_file` adds trusted CAs (read now: an unreadable file fails).
 */
function tlsPolicyFor(config: HeraldConfig, resolver: Resolver): Pick<DeliveryDeps, 'tlsPolicy'> {
  const sts = config.delivery.mta_sts;
  if (!sts.enabled) return {};
  let extraCa: string | undefined;
  try {
    extraCa = sts.ca_file ? readFileSync(sts.ca_file, 'utf8') : undefined;
  } catch (err) {
    throw new HeraldError(
      'HERALD_CONFIG_UNREADABLE',
      `delivery.mta_sts.ca_file: cannot read ${sts.ca_file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const policies = new MtaStsPolicies({
    resolver,
    cacheSize: sts.cache_size,
    extraCa,
    policyPort: sts.policy_port,
  });
  return { tlsPolicy: (domain, hosts) => policies.decide(domain, hosts) };
}

/** Delivery's `returnPath` when the config has a `bounce` section (VERP per recipient), else nothing. */
function returnPathFor(config: HeraldConfig): Pick<DeliveryDeps, 'returnPath'> {
  const verp = verpSettings(config);
  if (!verp) return {};
  return {
    returnPath: (data, recipient) =>
      encodeVerp(
        { tenant: data.tenant, messageId: data.messageId, recipient, now: Date.now() },
        verp.keys,
        verp.domain,
      ),
  };
}
