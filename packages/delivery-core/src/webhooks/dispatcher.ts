/**
 * The webhook dispatcher of one relay: while any endpoint exists it competes for the lease (one
 * dispatcher across relays); holding it, it runs the fan-out (fan-out.ts) and one sender loop per
 * endpoint (sender.ts), renews the lease every LEASE_TTL_MS / 3 and refreshes the endpoint list
 * every ENDPOINT_REFRESH_MS (run-time endpoints come and go). Losing the lease, a Redis error or
 * a fenced commit ends that term: everything stops and the dispatcher competes again. Its own
 * Redis connections (a blocking reader, a WATCH connection) are made per term; outboxes go
 * through the shared command connection. Each term starts by warning about orphaned outboxes
 * (orphans.ts: lists of endpoints no longer configured). `stop` ends it within STOP_TIMEOUT_MS and releases the
 * lease, so another relay takes over at once.
 */

import type { Logger } from 'pino';
import type { StreamCursor } from '../events/index.js';
import type { WebhookKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { settlesWithin } from '../util/index.js';
import type { EndpointStore, WebhookEndpoint } from './endpoints.js';
import { FanOutFenced, runFanOut } from './fan-out.js';
import { Lease } from './lease.js';
import { findOrphans } from './orphans.js';
import type { Outbox } from './outbox.js';
import { runSender, type WebhookMeter } from './sender.js';
import { pause, Wakeup } from './wait.js';

export const LEASE_TTL_MS = 15_000;
/** How often the endpoint list is read again (run-time endpoints added or removed). */
export const ENDPOINT_REFRESH_MS = 5_000;
/** A relay that did not get the lease tries again this often. */
const LEASE_RETRY_MS = 2_000;
const ERROR_PAUSE_MS = 1_000;
/** How long `stop` waits for the loops (an in-flight request is aborted). */
export const STOP_TIMEOUT_MS = 5_000;

export interface DispatcherDeps {
  /** The shared command connection (lease, outboxes, endpoint list). */
  redis: RedisClient;
  /** Opens a connection of the dispatcher's own (the reader, the WATCH connection). */
  connect(): Promise<RedisClient>;
  keys: WebhookKeys;
  /** The event stream, or (read at each lease term) the streams of every queue shard. */
  streamKey: string | (() => Promise<readonly string[]>);
  cursor: StreamCursor;
  store: EndpointStore;
  outbox: Outbox;
  meter: WebhookMeter;
  logger: Logger;
  retryDelayMs(attempt: number): number;
  now(): number;
  leaseTtlMs?: number;
}

interface SenderHandle {
  endpoint: WebhookEndpoint;
  wakeup: Wakeup;
  controller: AbortController;
  done: Promise<void>;
}

export class WebhookDispatcher {
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private leader = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** True while this relay holds the lease and dispatches. */
  get active(): boolean {
    return this.leader;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.running) await settlesWithin(this.running, STOP_TIMEOUT_MS);
  }

  private async loop(): Promise<void> {
    const { deps } = this;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const endpoints = await deps.store.list();
        if (endpoints.length === 0) {
          await pause(ENDPOINT_REFRESH_MS, signal);
          continue;
        }
        const lease = new Lease(deps.redis, deps.keys.lease, deps.leaseTtlMs ?? LEASE_TTL_MS);
        if (!(await lease.acquire())) {
          await pause(LEASE_RETRY_MS, signal);
          continue;
        }
        await this.term(lease, endpoints);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof FanOutFenced)
          deps.logger.warn({ reason: err.message }, 'webhook dispatcher fenced');
        else deps.logger.error({ err }, 'webhook dispatcher stopped by an error; starting again');
        await pause(ERROR_PAUSE_MS, signal);
      }
    }
  }

  /** Logs the outboxes of endpoints no longer configured (nothing sends them); never throws. */
  private warnOrphans(endpoints: readonly WebhookEndpoint[]): void {
    const { deps } = this;
    findOrphans(deps.redis, deps.keys, new Set(endpoints.map((e) => e.id))).then(
      (orphans) => {
        if (orphans.length > 0)
          deps.logger.warn(
            { orphans },
            `webhook outboxes of endpoints no longer configured: ${orphans.map((o) => `${o.id} (${o.outbox} waiting, ${o.dead} dead)`).join(', ')}; nothing sends them — restore the endpoint (same id) or drop them with herald webhook purge ID`,
          );
      },
      (err: unknown) => deps.logger.warn({ err }, 'looking for orphaned webhook outboxes failed'),
    );
  }

  /** One term as the lease holder. */
  private async term(lease: Lease, initial: WebhookEndpoint[]): Promise<void> {
    const { deps } = this;
    const ttl = deps.leaseTtlMs ?? LEASE_TTL_MS;
    const term = new AbortController();
    const endTerm = () => term.abort();
    this.stopping.signal.addEventListener('abort', endTerm, { once: true });
    const opened: RedisClient[] = [];
    const senders = new Map<string, SenderHandle>();
    let endpoints: readonly WebhookEndpoint[] = initial;
    let renewedAt = deps.now();
    const timers: NodeJS.Timeout[] = [];
    this.leader = true;
    deps.logger.info({ endpoints: endpoints.length }, 'webhook dispatcher active');
    this.warnOrphans(endpoints);

    const syncSenders = () => {
      const ids = new Set(endpoints.map((e) => e.id));
      for (const [id, handle] of senders)
        if (!ids.has(id)) {
          handle.controller.abort();
          senders.delete(id);
        }
      for (const endpoint of endpoints) {
        const known = senders.get(endpoint.id);
        if (known) known.endpoint = endpoint;
        else senders.set(endpoint.id, this.startSender(endpoint, term.signal));
      }
    };
    try {
      syncSenders();
      timers.push(
        setInterval(() => {
          lease.renew().then(
            (ours) => {
              if (ours) renewedAt = deps.now();
              else endTerm();
            },
            () => deps.now() - renewedAt >= ttl && endTerm(),
          );
        }, ttl / 3),
        setInterval(() => {
          deps.store.list().then(
            (list) => {
              if (list.length === 0) return endTerm();
              endpoints = list;
              syncSenders();
            },
            (err: unknown) => deps.logger.warn({ err }, 'webhook endpoints not refreshed'),
          );
        }, ENDPOINT_REFRESH_MS),
      );
      const reader = await deps.connect();
      opened.push(reader);
      term.signal.addEventListener('abort', () => reader.disconnect(), { once: true });
      const control = await deps.connect();
      opened.push(control);
      const streamKeys = typeof deps.streamKey === 'string' ? [deps.streamKey] : await deps.streamKey();
      await runFanOut(
        {
          reader,
          control,
          keys: deps.keys,
          streamKeys,
          cursor: deps.cursor,
          leaseToken: lease.token,
          endpoints: () => endpoints,
          queued: (id) => senders.get(id)?.wakeup.notify(),
          meter: deps.meter,
          logger: deps.logger,
          now: deps.now,
        },
        term.signal,
      );
    } catch (err) {
      if (!term.signal.aborted) throw err;
    } finally {
      this.leader = false;
      endTerm();
      for (const timer of timers) clearInterval(timer);
      this.stopping.signal.removeEventListener('abort', endTerm);
      await settlesWithin(Promise.all([...senders.values()].map((s) => s.done)), STOP_TIMEOUT_MS);
      // Not again once ended (the reader, at the term's abort): ioredis's disconnect of a closed
      // socket arms a 2 s destroy timer nothing clears, which held a stopped relay open 2 s.
      for (const connection of opened) if (connection.status !== 'end') connection.disconnect();
      await lease.release().catch(() => {});
      deps.logger.info('webhook dispatcher inactive');
    }
  }

  private startSender(endpoint: WebhookEndpoint, termSignal: AbortSignal): SenderHandle {
    const controller = new AbortController();
    termSignal.addEventListener('abort', () => controller.abort(), { once: true });
    const handle: SenderHandle = { endpoint, wakeup: new Wakeup(), controller, done: Promise.resolve() };
    const { deps } = this;
    handle.done = runSender(
      () => handle.endpoint,
      {
        outbox: deps.outbox,
        meter: deps.meter,
        logger: deps.logger,
        retryDelayMs: deps.retryDelayMs,
        now: deps.now,
      },
      handle.wakeup,
      controller.signal,
    );
    return handle;
  }
}
