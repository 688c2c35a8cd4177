/**
 * createRelay: wires a Herald (delivery-core) into the relay daemon's roles — `smtp` (submission
 * listener), `worker` (delivery workers) and `http` (health, readiness, metrics). The workers run
 * in `delivery.threads` worker threads of this process (thread-host.ts), or on the main thread
 * when it is 0. A worker relay also runs the webhook dispatcher on its main thread (it competes
 * for the one lease across relays, and idles while no endpoint exists). `start` binds the
 * listeners and returns their addresses; `stop` is the graceful shutdown: stop accepting (SMTP,
 * then HTTP), stop the webhook dispatcher, let in-flight SMTP sessions and deliveries finish
 * (bounded), close Redis last.
 */

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { createHerald, type Herald, type HeraldConfig } from '@herald/delivery-core';
import { parseListen, type Role } from '@herald/delivery-core/config';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import { createHttpServer } from './http.js';
import { createPolicy } from './policy.js';
import { createSubmissionServer } from './submission.js';
import { createDeliveryThreads, type DeliveryThreads } from './thread-host.js';
import { loadTls } from './tls.js';

/** How long `stop` waits for open SMTP sessions before closing them. */
const SMTP_CLOSE_TIMEOUT_MS = 10_000;

export interface RelayOptions {
  /** Overrides config.roles. */
  roles?: readonly Role[];
  logger?: Logger;
  /** Where a self-signed certificate is cached. */
  tlsCacheDir?: string;
}

export interface RelayAddresses {
  smtp?: { host: string; port: number };
  http?: { host: string; port: number };
}

export interface Relay {
  readonly herald: Herald;
  readonly roles: readonly Role[];
  /** The delivery worker threads running now (none with delivery.threads 0 or before start). */
  readonly deliveryThreads: readonly Worker[];
  start(): Promise<RelayAddresses>;
  stop(): Promise<void>;
}

export async function createRelay(config: HeraldConfig, options: RelayOptions = {}): Promise<Relay> {
  const roles = options.roles ?? config.roles;
  // The certificate is read before Redis is touched: a bad file fails the start with its key path.
  const tls = roles.includes('smtp') ? loadTls(config, options.tlsCacheDir) : undefined;
  const herald = await createHerald(config, options.logger ? { logger: options.logger } : {});
  let smtp: SMTPServer | undefined;
  let httpServer: http.Server | undefined;
  let threads: DeliveryThreads | undefined;
  let listening = false;
  let stopping: Promise<void> | undefined;

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
          threads = createDeliveryThreads({
            config: herald.config,
            count,
            events: herald.events,
            logger: herald.logger,
            incarnation: herald.incarnation,
          });
          await threads.start();
        }
        // Reads the event stream and POSTs on this thread; delivery runs in the worker threads.
        herald.webhooks.startDispatcher();
      }
      if (roles.includes('smtp')) {
        smtp = createSubmissionServer({ herald, policy: createPolicy(config, herald.intake.stages), tls });
        // A failure to listen is start()'s rejection (ListenError), not a log line as well.
        smtp.on('error', (err) => listening && herald.logger.error({ err }, 'smtp listener error'));
        addresses.smtp = await listen(smtp.server, config.smtp.listen, 'smtp.listen');
        listening = true;
      }
      if (roles.includes('http') && config.http.enabled) {
        httpServer = createHttpServer(herald, () => listening || !roles.includes('smtp'));
        addresses.http = await listen(httpServer, config.http.listen, 'http.listen');
      }
      herald.logger.info(
        { roles, deliveryThreads: threads?.workers.length ?? 0, ...addresses },
        'herald relay started',
      );
      return addresses;
    },
    stop() {
      stopping ??= (async () => {
        listening = false;
        herald.logger.info('herald relay stopping');
        if (smtp) await closeSmtp(smtp);
        if (httpServer) await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
        await herald.webhooks.stopDispatcher();
        if (threads) await threads.stop();
        await herald.close();
      })();
      return stopping;
    },
  };
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
