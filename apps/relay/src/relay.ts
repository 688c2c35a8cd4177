/**
 * createRelay: wires a Herald (delivery-core) into the relay daemon's roles — `smtp` (submission
 * listener), `worker` (delivery workers) and `http` (health, readiness, metrics); with an `api`
 * section, also the HTTP API on its own listener (@herald/http-api). The workers run
 * in `delivery.threads` worker threads of this process (thread-host.ts), or on the main thread
 * when it is 0. A worker relay also runs the webhook dispatcher on its main thread (it competes
 * for the one lease across relays, and idles while no endpoint exists). `start` binds the
 * listeners and returns their addresses; `stop` is the graceful shutdown: stop accepting (SMTP,
 * the API, then HTTP), stop the webhook dispatcher, let in-flight SMTP sessions, API requests and
 * deliveries finish (bounded), close Redis last. A relay with the `worker` role and an
 * `accounting` section also runs the accounting log (delivery-core's `accounting`) on its main
 * thread, on a Redis connection of its own; `stop` lets it finish its batch and save its cursor
 * after the deliveries have ended. `reload` (SIGHUP, `herald config reload`) reads the config file
 * again: Herald swaps its live sections (shaping, tenants, DKIM, routes), the SMTP policy is rebuilt
 * for the new users (sessions already authenticated stay so), and each delivery thread gets the new
 * config; no listener, connection or delivery is touched (reload.ts).
 */

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import {
  ConfigError,
  connectRedis,
  createHerald,
  type Herald,
  type HeraldConfig,
  loadConfigFile,
  redisTarget,
} from '@herald/delivery-core';
import { type AccountingLog, accountingFromConfig } from '@herald/delivery-core/accounting';
import { parseListen, type Role } from '@herald/delivery-core/config';
import { type ApiServer, createApiServer } from '@herald/http-api';
import { listenerErrorLevel } from '@herald/smtp-listener';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import { ThreadLanes } from './fast-lanes.js';
import { createHttpServer } from './http.js';
import { createPolicy, type SubmissionPolicy } from './policy.js';
import { livePolicy, type RelayReloadResult } from './reload.js';
import { createSubmissionServer } from './submission.js';
import { createDeliveryThreads, type DeliveryThreads } from './thread-host.js';
import { loadTls } from './tls.js';

/** How long `stop` waits for open SMTP sessions before closing them. */
const SMTP_CLOSE_TIMEOUT_MS = 10_000;
/** Deadline for the accounting log's own Redis connection at start. */
const ACCOUNTING_CONNECT_TIMEOUT_MS = 5_000;

export interface RelayOptions {
  /** Overrides config.roles. */
  roles?: readonly Role[];
  logger?: Logger;
  /** Where a self-signed certificate is cached. */
  tlsCacheDir?: string;
  /** The config file `reload` reads again (absent: reload answers that there is none). */
  configFile?: string;
  /** Environment for REDIS_URL when the file is read again. */
  env?: Record<string, string | undefined>;
}

export interface RelayAddresses {
  smtp?: { host: string; port: number };
  http?: { host: string; port: number };
  api?: { host: string; port: number };
}

export interface Relay {
  readonly herald: Herald;
  readonly roles: readonly Role[];
  /** The delivery worker threads running now (none with delivery.threads 0 or before start). */
  readonly deliveryThreads: readonly Worker[];
  start(): Promise<RelayAddresses>;
  /** Reads the config file again and applies what can change live (see the header). */
  reload(): Promise<RelayReloadResult>;
  stop(): Promise<void>;
}

export async function createRelay(config: HeraldConfig, options: RelayOptions = {}): Promise<Relay> {
  const roles = options.roles ?? config.roles;
  // The certificate is read before Redis is touched: a bad file fails the start with its key path.
  const tls = roles.includes('smtp') ? loadTls(config, options.tlsCacheDir) : undefined;
  const herald = await createHerald(config, {
    telemetryProcess: 'relay',
    ...(options.logger ? { logger: options.logger } : {}),
  });
  let smtp: SMTPServer | undefined;
  let httpServer: http.Server | undefined;
  let api: ApiServer | undefined;
  let threads: DeliveryThreads | undefined;
  let accounting: { log: AccountingLog; close(): void } | undefined;
  let listening = false;
  let stopping: Promise<void> | undefined;
  let policy: SubmissionPolicy = createPolicy(herald.config, herald.intake.stages);

  return {
    herald,
    roles,
    get deliveryThreads() {
      return threads?.workers ?? [];
    },
    async start() {
      const addresses: RelayAddresses = {};
      if (roles.includes('worker')) {
        // With a node_id, what a crashed previous run of this relay held is freed first.
        await herald.reclaimLeases();
        const count = herald.config.delivery.threads;
        if (count === 0) herald.startWorkers();
        else {
          // Jobs the threads have room for go to them from memory, not through BullMQ.
          const lanes = new ThreadLanes(count);
          threads = createDeliveryThreads({
            config: herald.config,
            count,
            events: herald.events,
            logger: herald.logger,
            incarnation: herald.incarnation,
            lanes,
          });
          await threads.start();
          herald.useFastLane(lanes);
          const running = threads;
          // What the threads measure outside events (waits, connections) reaches this /metrics.
          herald.metrics.addDeliverySource(() => running.snapshots());
        }
        accounting = await startAccounting(herald);
        // Reads the event stream and POSTs on this thread; delivery runs in the worker threads.
        herald.webhooks.startDispatcher();
        // One relay a day (a lease) sends the TLS reports of the day before.
        herald.tlsReporting?.startDaily();
        // Deletes held messages past quarantine.retention (one relay per interval, a lease).
        herald.quarantine.startSweeper();
      }
      if (roles.includes('smtp')) {
        smtp = createSubmissionServer({ herald, policy: livePolicy(() => policy), tls });
        // A failure to listen is start()'s rejection (ListenError), not a log line as well.
        smtp.on(
          'error',
          (err) => listening && herald.logger[listenerErrorLevel(err)]({ err }, 'smtp listener error'),
        );
        addresses.smtp = await listen(smtp.server, config.smtp.listen, 'smtp.listen');
        listening = true;
      }
      if (config.api) {
        api = createApiServer({ herald, config, logger: herald.logger });
        addresses.api = await api.listen();
      }
      if (roles.includes('http') && config.http.enabled) {
        httpServer = createHttpServer(herald, () => listening || !roles.includes('smtp'), api);
        addresses.http = await listen(httpServer, config.http.listen, 'http.listen');
      }
      herald.logger.info(
        { roles, deliveryThreads: threads?.workers.length ?? 0, ...addresses },
        'herald relay started',
      );
      return addresses;
    },
    async reload() {
      const file = options.configFile;
      const result = herald.reloadConfig(() => {
        if (!file) throw noConfigFile();
        return loadConfigFile(file, { env: options.env ?? {} });
      });
      if (!result.ok) return { ...result, threads: [] };
      policy = createPolicy(herald.config, herald.intake.stages);
      const threadResults = threads ? await threads.reload(herald.config) : [];
      if (threads) herald.metrics.config.threadsRun(threadResults);
      for (const thread of threadResults)
        if (!thread.ok || thread.hash !== result.hash)
          herald.logger.warn({ ...thread, hash: result.hash }, 'delivery thread runs another config version');
      return { ...result, threads: threadResults };
    },
    stop() {
      stopping ??= (async () => {
        listening = false;
        herald.logger.info('herald relay stopping');
        if (smtp) await closeSmtp(smtp);
        // In-flight API requests finish (their enqueue answers) before Redis closes below.
        if (api) await api.close();
        if (httpServer) await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
        await herald.webhooks.stopDispatcher();
        herald.useFastLane(undefined);
        if (threads) await threads.stop();
        if (accounting) {
          await accounting.log.stop();
          accounting.close();
        }
        await herald.close();
      })();
      return stopping;
    },
  };
}

/** A relay made without a config file has nothing to read again. */
function noConfigFile(): ConfigError {
  return new ConfigError('HERALD_CONFIG_INVALID', [
    { path: '', message: 'this relay was started without --config: there is no file to reload' },
  ]);
}

/** The accounting log when configured: its own connection (a blocking read holds it), started. */
async function startAccounting(herald: Herald): Promise<{ log: AccountingLog; close(): void } | undefined> {
  const { config, logger } = herald;
  if (!config.accounting) return undefined;
  const redis = await connectRedis(redisTarget(config.redis), {
    timeoutMs: ACCOUNTING_CONNECT_TIMEOUT_MS,
    onError: (err) => logger.debug({ err }, 'accounting redis connection error'),
  });
  const log = accountingFromConfig(config, { redis, logger, registry: herald.metrics.registry });
  if (!log) {
    redis.disconnect();
    return undefined;
  }
  void log.start();
  return { log, close: () => redis.disconnect() };
}

/** A listener could not listen on its address: names the config key that gave it. */
export class ListenError extends Error {
  readonly key: string;
  constructor(key: string, address: string, cause: NodeJS.ErrnoException) {
    const reason =
      cause.code === 'EADDRINUSE' ? `address ${address} already in use` : `${address}: ${cause.message}`;
    super(`${key}: ${reason}`, { cause });
    this.name = 'ListenError';
    this.key = key;
  }
}

function listen(
  server: {
    listen: (port: number, host: string, cb: () => void) => unknown;
    once: (e: string, cb: (err: Error) => void) => unknown;
    address: () => AddressInfo | string | null;
  },
  spec: string,
  key: string,
): Promise<{ host: string; port: number }> {
  const { host, port } = parseListen(spec);
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new ListenError(key, `${host}:${port}`, err)));
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

function closeSmtp(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, SMTP_CLOSE_TIMEOUT_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
