/**
 * createDelivery: the delivery capability built from the parts it needs — the SMTP pool (its
 * connections on the shaping runtime's leased slots), MX or static routes, VERP return paths,
 * the MTA-STS decision (injected), what follows a failure (DSNs, hard bounces) — and the worker factory over them, each
 * worker gated by a fresh gate from the shaping port; `settleOperator` ends a job an operator
 * removed (queue-ops) through the same events and DSN path. Closing stops the workers, then the pool.
 * Needs injected: the config, spool, event sink, resolver, the shaping port (`DeliveryShaping`:
 * gate factory, parking, connection leases; `shaping/` implements it) and the follow-up's sinks.
 */
import { hostname as osHostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type HeraldConfig, matchRoute, parseHostPort, type Route, tenantPolicy } from '../config/index.js';
import type { Resolver } from '../dns/index.js';
import type { RedisEventSink } from '../events/index.js';
import type { DeliveryJobData, OperatorMark, Spool } from '../queue/index.js';
import { type ConnectionLeases, SmtpPool } from '../smtp/index.js';
import { encodeVerp, verpSettings } from '../verp/index.js';
import { type FollowUpDeps, followUpFailures, type SuppressionEntryInput } from './follow-up.js';
import type { StaticRoute } from './hosts.js';
import { applyOperatorMark } from './operator.js';
import type { DeliveryDeps, DeliveryGate, JobParking } from './types.js';
import { DeliveryWorker } from './worker.js';

/** Default port of a route's `via` when it names none. */
const ROUTE_PORT = 25;

/** What delivery needs of traffic shaping (implemented by `shaping/`'s runtime). */
export interface DeliveryShaping {
  /** A gate for one worker. */
  newGate(): DeliveryGate;
  readonly parked: JobParking;
  /** Site-wide connection slots for the SMTP pool. */
  readonly leases: ConnectionLeases;
}

export interface DeliveryParts {
  config: HeraldConfig;
  spool: Spool;
  events: RedisEventSink;
  resolver: Resolver;
  shaping: DeliveryShaping;
  /** MTA-STS (auth's `mtaStsTlsPolicy`), when enabled. */
  tlsPolicy?: DeliveryDeps['tlsPolicy'];
  logger: Logger;
  /** Calls back when the queue got more shards (the spool's registry); absent: never. */
  onShardsGrew?(listener: () => void): void;
  /** Spools a DSN (Herald's own mail, from the null sender). */
  enqueueDsn(dsn: { id: string; tenant: string; to: string; body: Buffer }): Promise<void>;
  /** Hard-bounced recipients: suppress, count, evaluate the tenant (feedback). */
  hardBounces(tenant: string, entries: SuppressionEntryInput[]): Promise<void>;
}

export interface Delivery {
  /**
   * Starts this thread's delivery workers: one BullMQ Worker per queue shard (each on its own
   * blocking connection), sharing `delivery.concurrency` between them and one shaping gate; a
   * shard added later (another process raised `queue.shards`) gets its worker when the spool's
   * registry sees it (`onShardsGrew`). Returns the workers started now.
   */
  startWorkers(): DeliveryWorker[];
  /**
   * Ends a job's pending recipients as an operator decided (a job queue-ops removed from the
   * queue): `bounced` events with `operator`, and for a bounce the DSN to the envelope sender as
   * for a remote permanent failure (never to the null sender). `body` is the spooled message the
   * DSN quotes, read before the job was finished. Returns how many recipients it ended.
   */
  settleOperator(data: DeliveryJobData, mark: OperatorMark, body?: Buffer | null): Promise<number>;
  /** Stops the workers (in-flight deliveries get `graceMs`, default theirs) and the SMTP pool. */
  close(graceMs?: number): Promise<void>;
}

export function createDelivery(parts: DeliveryParts): Delivery {
  const { config, spool, events, resolver, logger } = parts;
  const d = config.delivery;
  const pool = new SmtpPool({
    leases: parts.shaping.leases,
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
  const workers: { worker: DeliveryWorker; connection: Redis }[] = [];
  const followUp: FollowUpDeps = {
    getBody: (id) => spool.getBody(id),
    enqueueDsn: parts.enqueueDsn,
    suppress: parts.hardBounces,
    hostname: config.smtp.hostname,
    wantsDsn: (tenant) => tenantPolicy(config, tenant).dsn,
    newId: () => spool.newMessageId(),
    now: Date.now,
  };

  /** One thread's workers by shard, with the gate they share. */
  const threads: { byShard: Map<number, DeliveryWorker>; gate: DeliveryGate }[] = [];
  const startShard = (shard: number, gate: DeliveryGate, concurrency: number) => {
    const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
    connection.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
    const worker = new DeliveryWorker({
      connection,
      prefix: spool.shardKeys(shard).bullmqPrefix,
      concurrency,
      lockDurationMs: d.lock_duration,
      stalledIntervalMs: d.stalled_interval,
      logger,
      parked: parts.shaping.parked,
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
        ...(parts.tlsPolicy ? { tlsPolicy: parts.tlsPolicy } : {}),
        gate,
        operatorMark: (data) => spool.marks.read(data.messageId, data.domain),
      },
    });
    worker.start();
    workers.push({ worker, connection });
    return worker;
  };
  /** Serves every shard of the layout now; the shares of `delivery.concurrency` are recomputed. */
  const serveAllShards = (thread: (typeof threads)[number]) => {
    const shards = spool.allShards();
    const started: DeliveryWorker[] = [];
    for (const shard of shards) {
      const share = concurrencyShare(d.concurrency, shards.length, shard);
      const running = thread.byShard.get(shard);
      if (running) running.worker.concurrency = share;
      else {
        const worker = startShard(shard, thread.gate, share);
        thread.byShard.set(shard, worker);
        started.push(worker);
      }
    }
    return started;
  };
  parts.onShardsGrew?.(() => {
    for (const thread of threads) serveAllShards(thread);
  });

  return {
    startWorkers() {
      const thread = { byShard: new Map<number, DeliveryWorker>(), gate: parts.shaping.newGate() };
      threads.push(thread);
      return serveAllShards(thread);
    },
    async settleOperator(data, mark, body) {
      const outcome = applyOperatorMark(data, mark, { events, now: Date.now });
      if (outcome.failures.length > 0)
        await followUpFailures(outcome.data, outcome.failures, {
          ...followUp,
          getBody: async () => body,
        }).catch((err: unknown) =>
          logger.error({ err, messageId: data.messageId }, 'follow-up of an operator bounce failed'),
        );
      return outcome.failures.length;
    },
    async close(graceMs) {
      await Promise.all(workers.map(({ worker }) => worker.close(graceMs)));
      await pool.close();
      for (const { connection } of workers) connection.disconnect();
    },
  };
}

/**
 * Shard `shard`'s part of `total` concurrency over `shards` shards: the total split evenly, the
 * remainder to the first shards, at least 1 each (more shards than `total` → one job per shard).
 */
export function concurrencyShare(total: number, shards: number, shard: number): number {
  return Math.max(1, Math.floor(total / shards) + (shard < total % shards ? 1 : 0));
}

export function toStaticRoute(route: Route | undefined): StaticRoute | undefined {
  if (!route) return undefined;
  return { match: route.match, via: parseHostPort(route.via, ROUTE_PORT), tls: route.tls, auth: route.auth };
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
