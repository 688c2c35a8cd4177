/**
 * Webhook endpoints: those of the config (`webhooks:`) and those added at run time, kept in Redis
 * (`<prefix>:webhook:{webhooks}:endpoints`, id → JSON) so the HTTP API can manage them. Each has a
 * stable id: a config endpoint's `id`, else `cfg_` + a hash of its tenant and url; a run-time one
 * `ep_` + random hex. A run-time endpoint receives the events written after it was added (`since`).
 * Run-time input is validated with the config's schema (a bad one is a HERALD_INPUT_INVALID).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type HeraldConfig,
  secretsIn,
  toConfigIssues,
  type WebhookEndpointConfig,
  type WebhookEndpointInput,
  webhookEndpointSchema,
} from '../config/index.js';
import { HeraldError } from '../errors/index.js';
import type { WebhookKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  /** Event types it receives. */
  events: readonly string[];
  /** `whsec_…`: never logged or printed. */
  secret: string;
  batchSize: number;
  batchWaitMs: number;
  timeoutMs: number;
  retryForMs: number;
  /** Where it is defined: the config file, or added at run time (removable). */
  source: 'config' | 'runtime';
  /** Epoch ms: only events written from then on are sent to it (0: every event the dispatcher reads). */
  since: number;
}

/** Most run-time endpoints kept (each one is an outbox and a sender loop). */
export const MAX_RUNTIME_ENDPOINTS = 1000;

function fromConfig(entry: WebhookEndpointConfig, source: 'config' | 'runtime', since: number, id: string) {
  return {
    id,
    tenant: entry.tenant,
    url: entry.url,
    events: [...entry.events],
    secret: entry.secret,
    batchSize: entry.batch_size,
    batchWaitMs: entry.batch_wait,
    timeoutMs: entry.timeout,
    retryForMs: entry.retry_for,
    source,
    since,
  } satisfies WebhookEndpoint;
}

/** The id of a config endpoint without an `id`: stable while its tenant and url stay. */
export function configEndpointId(tenant: string, url: string): string {
  return `cfg_${createHash('sha256').update(`${tenant}\n${url}`).digest('hex').slice(0, 16)}`;
}

export function configEndpoints(config: HeraldConfig): WebhookEndpoint[] {
  return config.webhooks.map((entry) =>
    fromConfig(
      entry as WebhookEndpointConfig,
      'config',
      0,
      entry.id ?? configEndpointId(entry.tenant, entry.url),
    ),
  );
}

interface StoredEndpoint {
  input: WebhookEndpointInput;
  since: number;
}

export class EndpointStore {
  private readonly fromFile: WebhookEndpoint[];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: WebhookKeys,
    config: HeraldConfig,
  ) {
    this.fromFile = configEndpoints(config);
  }

  /** The config's endpoints, then the run-time ones (unreadable records are skipped). */
  async list(): Promise<WebhookEndpoint[]> {
    const stored = await this.redis.hgetall(this.keys.endpoints);
    const runtime: WebhookEndpoint[] = [];
    for (const [id, json] of Object.entries(stored)) {
      try {
        const { input, since } = JSON.parse(json) as StoredEndpoint;
        runtime.push(fromConfig(webhookEndpointSchema.parse(input), 'runtime', since, id));
      } catch {
        // not one of ours, or from an incompatible version: ignored
      }
    }
    runtime.sort((a, b) => a.since - b.since || a.id.localeCompare(b.id));
    return [...this.fromFile, ...runtime];
  }

  async get(id: string): Promise<WebhookEndpoint | undefined> {
    return (await this.list()).find((endpoint) => endpoint.id === id);
  }

  /** True when any endpoint exists (config or run time). */
  async any(): Promise<boolean> {
    return this.fromFile.length > 0 || (await this.redis.hlen(this.keys.endpoints)) > 0;
  }

  /** Adds a run-time endpoint (validated like the config's); it gets events written from now on. */
  async add(input: WebhookEndpointInput, nowMs = Date.now()): Promise<WebhookEndpoint> {
    const parsed = webhookEndpointSchema.safeParse(input);
    if (!parsed.success) {
      const text = toConfigIssues(parsed.error, webhookEndpointSchema, secretsIn(input))
        .map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message))
        .join('; ');
      throw new HeraldError('HERALD_INPUT_INVALID', `webhook endpoint: ${text}`);
    }
    if ((await this.redis.hlen(this.keys.endpoints)) >= MAX_RUNTIME_ENDPOINTS)
      throw new HeraldError(
        'HERALD_INPUT_INVALID',
        `at most ${MAX_RUNTIME_ENDPOINTS} run-time webhook endpoints`,
      );
    const id = parsed.data.id ?? `ep_${randomBytes(8).toString('hex')}`;
    if (this.fromFile.some((endpoint) => endpoint.id === id))
      throw new HeraldError('HERALD_INPUT_INVALID', `webhook endpoint id ${id} is taken by the config`);
    const record: StoredEndpoint = { input: { ...input, id }, since: nowMs };
    const added = await this.redis.hsetnx(this.keys.endpoints, id, JSON.stringify(record));
    if (added === 0) throw new HeraldError('HERALD_INPUT_INVALID', `webhook endpoint id ${id} exists`);
    return fromConfig(parsed.data, 'runtime', nowMs, id);
  }

  /** Removes a run-time endpoint; false when there is none by that id (config ones stay). */
  async remove(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.endpoints, id)) === 1;
  }
}
