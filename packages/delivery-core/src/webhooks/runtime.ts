/**
 * `createWebhooks`: the webhooks capability built from the parts it needs (the command
 * connection, the config, a way to open connections of its own, a meter). It offers verbs:
 * endpoints (list, add, remove — for `herald webhook list` and the HTTP API), dead letters (list,
 * replay — `herald webhook dead`), outbox depths (the metrics gauge) and the dispatcher
 * (`startDispatcher` / `stopDispatcher`, run by relays with the worker role).
 */

import type { Logger } from 'pino';
import type { HeraldConfig, WebhookEndpointInput } from '../config/index.js';
import { streamCursor } from '../events/index.js';
import { WEBHOOKS_CONSUMER, webhookKeys } from '../keys/index.js';
import { readEventStreamKeys } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { RETRY_DELAYS_MS, retryDelayMs } from './batching.js';
import { WebhookDispatcher } from './dispatcher.js';
import { EndpointStore, type WebhookEndpoint } from './endpoints.js';
import { findOrphans, type OrphanedOutbox, purgeEndpointData } from './orphans.js';
import { Outbox, type WebhookBatch } from './outbox.js';
import type { WebhookMeter } from './sender.js';

/** Most dead letters one listing returns. */
export const MAX_DEAD_LISTED = 10_000;

export interface WebhooksDeps {
  redis: RedisClient;
  config: HeraldConfig;
  connect(): Promise<RedisClient>;
  meter: WebhookMeter;
  logger: Logger;
  /** Retry delays in ms (default RETRY_DELAYS_MS), jittered ±20 %; tests make them short. */
  retryDelaysMs?: readonly number[];
  leaseTtlMs?: number;
  now?(): number;
}

export interface DeadLetterFilter {
  endpoint?: string;
  tenant?: string;
  limit?: number;
}

export interface Webhooks {
  listEndpoints(): Promise<WebhookEndpoint[]>;
  /** Adds a run-time endpoint (HERALD_INPUT_INVALID when the input is not valid). */
  addEndpoint(input: WebhookEndpointInput): Promise<WebhookEndpoint>;
  /** Removes a run-time endpoint with its outbox and dead letters; false when there is none. */
  removeEndpoint(id: string): Promise<boolean>;
  /** Dead-lettered batches, oldest first per endpoint (bodies left out). */
  deadLetters(filter?: DeadLetterFilter): Promise<WebhookBatch[]>;
  /** Moves dead batches back to their outboxes with a fresh retry budget; how many moved. */
  replay(target: { batch: string } | { all: true; endpoint?: string }): Promise<number>;
  /** Batches waiting per endpoint. */
  outboxDepths(): Promise<Map<string, number>>;
  /** Outboxes and dead-letter lists of endpoint ids neither configured nor added at run time. */
  orphans(): Promise<OrphanedOutbox[]>;
  /**
   * Deletes an orphaned endpoint's outbox, dead letters and batches; how many batches went, or
   * undefined when `id` is a live endpoint (config or run time: nothing is deleted).
   */
  purgeOrphan(id: string): Promise<number | undefined>;
  startDispatcher(): void;
  stopDispatcher(): Promise<void>;
  /** True while this process holds the dispatcher lease. */
  readonly dispatching: boolean;
}

export function createWebhooks(deps: WebhooksDeps): Webhooks {
  const prefix = deps.config.redis.prefix;
  const keys = webhookKeys(prefix);
  const store = new EndpointStore(deps.redis, keys, deps.config);
  const outbox = new Outbox(deps.redis, keys);
  const now = deps.now ?? Date.now;
  const delays = deps.retryDelaysMs ?? RETRY_DELAYS_MS;
  let dispatcher: WebhookDispatcher | undefined;

  const endpointIds = async (endpoint?: string) =>
    endpoint === undefined ? (await store.list()).map((e) => e.id) : [endpoint];

  return {
    listEndpoints: () => store.list(),
    addEndpoint: (input) => store.add(input, now()),
    async removeEndpoint(id) {
      const removed = await store.remove(id);
      if (removed) await purgeEndpointData(deps.redis, keys, id);
      return removed;
    },
    async deadLetters(filter = {}) {
      const limit = Math.min(filter.limit ?? MAX_DEAD_LISTED, MAX_DEAD_LISTED);
      const found = await outbox.deadLetters(await endpointIds(filter.endpoint), limit);
      return filter.tenant === undefined ? found : found.filter((b) => b.tenant === filter.tenant);
    },
    async replay(target) {
      if ('batch' in target) {
        const endpoint = await deps.redis.hget(keys.batch(target.batch), 'endpoint');
        return endpoint !== null && (await outbox.replay(endpoint, target.batch)) ? 1 : 0;
      }
      let moved = 0;
      for (const endpoint of await endpointIds(target.endpoint)) {
        for (const id of await deps.redis.lrange(keys.dead(endpoint), 0, -1))
          if (await outbox.replay(endpoint, id)) moved++;
      }
      return moved;
    },
    async outboxDepths() {
      return outbox.depths(await endpointIds());
    },
    async orphans() {
      return findOrphans(deps.redis, keys, new Set(await endpointIds()));
    },
    async purgeOrphan(id) {
      if ((await endpointIds()).includes(id)) return undefined;
      return purgeEndpointData(deps.redis, keys, id);
    },
    startDispatcher() {
      dispatcher ??= new WebhookDispatcher({
        redis: deps.redis,
        connect: deps.connect,
        keys,
        streamKey: () => readEventStreamKeys(deps.redis, prefix),
        cursor: streamCursor(deps.redis, prefix, WEBHOOKS_CONSUMER),
        store,
        outbox,
        meter: deps.meter,
        logger: deps.logger,
        retryDelayMs: (attempt) => retryDelayMs(attempt, Math.random, [...delays]),
        now,
        ...(deps.leaseTtlMs === undefined ? {} : { leaseTtlMs: deps.leaseTtlMs }),
      });
      dispatcher.start();
    },
    async stopDispatcher() {
      await dispatcher?.stop();
    },
    get dispatching() {
      return dispatcher?.active ?? false;
    },
  };
}
