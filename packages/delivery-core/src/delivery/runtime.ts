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
import type { Logger } from 'pino';
import { type HeraldConfig, matchRoute, parseHostPort, type Route, tenantPolicy } from '../config/index.js';
import type { Resolver } from '../dns/index.js';
import type { RedisEventSink } from '../events/index.js';
import { toSevenBit } from '../message/index.js';
import { DELIVERY_QUEUE, type DeliveryJobData, type OperatorMark, type Spool } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { type ConnectionLeases, SmtpPool } from '../smtp/index.js';
import type { Tracer } from '../telemetry/index.js';
import { encodeVerp, verpSettings } from '../verp/index.js';
import { DsnReports, startReportSweep } from './dsn-reports.js';
import { FastPath } from './fast-path.js';
import {
  type FollowUpDeps,
  failureLines,
  followUpFailures,
  type SuppressionEntryInput,
} from './follow-up.js';
import type { StaticRoute } from './hosts.js';
import { type LeaseReaper, startLeaseReaper } from './lease-reaper.js';
import { applyOperatorMark, operatorFailures } from './operator.js';
import { othersDeferred } from './others-deferred.js';
import { ThreadWorkers } from './thread-workers.js';
import type { DeliveryDeps, DeliveryGate, DeliveryMeterPort, JobParking } from './types.js';
import { DeliveryWorker } from './worker.js';

/** How long a graceful shutdown waits for in-flight fast-lane deliveries (as the worker's). */
const SHUTDOWN_GRACE_MS = 30_000;
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
  /** The config in force for what a reload changes (routes, tenants); default `config`. */
  live?: () => HeraldConfig;
  spool: Spool;
  /** The command connection (the DSN report collector's reads and writes). */
  redis: RedisClient;
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
  hardBounces(
    tenant: string,
    entries: SuppressionEntryInput[],
    account?: string,
    messageId?: string,
  ): Promise<void>;
  /** A new connection for a worker's BullMQ (blocking reads; maxRetriesPerRequest null). */
  workerConnection(): RedisClient;
  /** Runs of this node whose leases the first reaper pass takes back at once (node_id set). */
  takeBack?: (node: string) => boolean;
  /** Counts jobs shaping held back (metrics); absent = not counted. */
  meter?: DeliveryMeterPort;
  /** Spans each attempt (`herald.delivery.attempt`); absent = none. */
  tracer?: Tracer;
}

export interface Delivery {
  /**
   * Starts this thread's delivery workers: one BullMQ Worker per queue shard (each on its own
   * blocking connection), sharing `delivery.concurrency` between them and one shaping gate; a
   * shard added later (another process raised `queue.shards`) gets its worker when the spool's
   * registry sees it (`onShardsGrew`). With the first thread, the lease reaper (every shard).
   * Returns the workers started now.
   */
  startWorkers(): DeliveryWorker[];
  /**
   * Starts the fast path on the last thread started (delivery/fast-path.ts): jobs handed over
   * from memory share its slots (its shard workers' budget). `announce` tells the host the room.
   */
  startFastPath(announce: (room: number, done: number) => void): FastPath;
  /**
   * The DSN collector fields of an operator's bounce of a job (its pending recipients' failure
   * lines, as for a remote permanent failure; none for a delete, for the null sender, for a
   * tenant without DSNs or NOTIFY without FAILURE): queue-ops hands them to `Spool.claimFinish`,
   * so they are saved in the same step as the job's end and a crash after it loses no DSN.
   */
  operatorReport(data: DeliveryJobData, mark: OperatorMark): string[];
  /**
   * Ends a job's pending recipients as an operator decided (a job queue-ops removed from the
   * queue and finished, its report lines saved by the finish): `bounced` events with `operator`;
   * `reportsDue` (the job was the message's last, `Spool.claimFinish`): then the message's
   * reports are sent. Returns how many recipients it ended.
   */
  settleOperator(data: DeliveryJobData, mark: OperatorMark, reportsDue?: boolean): Promise<number>;
  /** This thread's SMTP connections open per site (in use or idle), for metrics. */
  openConnectionsBySite(): Map<string, number>;
  /** Stops the workers (in-flight deliveries get `graceMs`, default theirs) and the SMTP pool. */
  close(graceMs?: number): Promise<void>;
}

export function createDelivery(parts: DeliveryParts): Delivery {
  const { config, spool, events, resolver, logger } = parts;
  const d = config.delivery;
  const live = parts.live ?? (() => config);
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
  const workers: { worker: DeliveryWorker; connection: RedisClient }[] = [];
  const threads: ThreadWorkers[] = [];
  const fastPaths: FastPath[] = [];
  let reaper: LeaseReaper | undefined;
  let sweep: { close(): Promise<void> } | undefined;
  const reports = new DsnReports({
    redis: parts.redis,
    spool,
    hostname: config.smtp.hostname,
    enqueueDsn: parts.enqueueDsn,
    newId: () => spool.newMessageId(),
    now: Date.now,
  });
  const followUp: FollowUpDeps = {
    reports,
    othersDeferred: (data) => othersDeferred(spool, data),
    suppress: parts.hardBounces,
    wantsDsn: (tenant) => tenantPolicy(live(), tenant).dsn,
    now: Date.now,
  };
  const reportsDue = async (messageId: string) => {
    await reports.flush(messageId);
  };
  const startShard = (shard: number, deps: DeliveryDeps, concurrency: number): DeliveryWorker => {
    const connection = parts.workerConnection();
    connection.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
    const worker = new DeliveryWorker({
      connection,
      prefix: spool.shardKeys(shard).bullmqPrefix,
      concurrency,
      lockDurationMs: d.lock_duration,
      stalledIntervalMs: d.stalled_interval,
      logger,
      parked: parts.shaping.parked,
      afterFailures: (data, failures, notices) => followUpFailures(data, failures, followUp, notices),
      reportsDue,
      deps,
    });
    worker.start();
    workers.push({ worker, connection });
    return worker;
  };
  parts.onShardsGrew?.(() => {
    for (const thread of threads) thread.serve(spool.allShards());
  });

  return {
    startWorkers() {
      const deps: DeliveryDeps = {
        spool,
        resolver,
        pool,
        events,
        retry: {
          scheduleMs: [...config.retry.schedule],
          jitter: config.retry.jitter,
          maxQueueLifetimeMs: config.retry.max_queue_lifetime,
        },
        routeFor: (domain) => toStaticRoute(matchRoute(live().routes as readonly Route[], domain)),
        mxPort: d.port,
        mxLimits: { addresses: d.mx_address_limit, sessions: d.mx_session_limit },
        tls: d.tls,
        tlsVerify: d.tls_verify,
        now: Date.now,
        ...returnPathFor(config),
        ...(parts.tlsPolicy ? { tlsPolicy: parts.tlsPolicy } : {}),
        gate: parts.shaping.newGate(),
        ...(parts.meter ? { meter: parts.meter } : {}),
        ...(parts.tracer ? { tracer: parts.tracer } : {}),
        operatorMark: (data) => spool.marks.read(data.messageId, data.domain),
        delayWarningMs: (tenant) => {
          const own = tenantPolicy(live(), tenant).delay_warning;
          return own === false ? undefined : (own ?? d.delay_warning);
        },
        ...(d.convert_8bit ? { downgrade8bit: toSevenBit } : {}),
      };
      const thread = new ThreadWorkers(deps, d.concurrency, startShard);
      threads.push(thread);
      const started = thread.serve(spool.allShards());
      reaper ??= startLeaseReaper({
        connection: parts.workerConnection(),
        bullmqPrefixOf: (shard) => spool.shardKeys(shard).bullmqPrefix,
        queueName: DELIVERY_QUEUE,
        leases: spool.leases,
        leaseTtlMs: d.lock_duration,
        ...(parts.takeBack ? { takeBack: parts.takeBack } : {}),
        logger,
      });
      sweep ??= startReportSweep(reports, logger);
      return started;
    },
    startFastPath(announce) {
      const last = threads.at(-1);
      if (!last) throw new Error('startFastPath needs a worker: call startWorkers first');
      const fast = new FastPath({
        deps: last.deps,
        leases: spool.leases,
        worker: last,
        concurrency: d.concurrency,
        leaseTtlMs: d.lock_duration,
        logger,
        parked: parts.shaping.parked,
        afterFailures: (data, failures, notices) => followUpFailures(data, failures, followUp, notices),
        reportsDue,
        announce,
      });
      fastPaths.push(fast);
      return fast;
    },
    operatorReport(data, mark) {
      if (mark.action !== 'bounce' || data.from === '' || !followUp.wantsDsn(data.tenant)) return [];
      return DsnReports.fieldsOf(
        data,
        'failure',
        failureLines(data, operatorFailures(data, mark), Date.now()),
      );
    },
    async settleOperator(data, mark, due) {
      const outcome = applyOperatorMark(data, mark, { events, now: Date.now });
      // An operator's bounce is reported at once: the whole message's report when this was its
      // last job, else a partial one (its other jobs' failures get their own).
      if (due || outcome.failures.length > 0)
        await reports
          .flush(data.messageId)
          .catch((err: unknown) =>
            logger.error(
              { err, messageId: data.messageId },
              'sending the DSN reports failed; the sweep retries',
            ),
          );
      return outcome.failures.length;
    },
    openConnectionsBySite: () => pool.openBySite(),
    async close(graceMs) {
      const grace = graceMs ?? SHUTDOWN_GRACE_MS;
      await Promise.all([
        ...workers.map(({ worker }) => worker.close(graceMs)),
        ...fastPaths.map((fast) => fast.close(grace)),
      ]);
      await reaper?.close();
      await sweep?.close();
      await pool.close();
      for (const { connection } of workers) connection.disconnect();
    },
  };
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
