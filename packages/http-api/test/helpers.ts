/**
 * Test parts for the HTTP API: a private Redis, a Herald on it and the API listening on
 * 127.0.0.1:0, plus `call` (fetch with a bearer key, JSON in and out).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createHerald, defaultConfig, type Herald, type HeraldConfigInput } from '@herald/delivery-core';
import { TenantKeyStore } from '@herald/delivery-core/apikeys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import pino from 'pino';
import { type ApiServer, createApiServer } from '../src/index.js';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789';
export const PREFIX = 'apitest';

export interface ApiStack {
  redis: RedisHandle;
  herald: Herald;
  server: ApiServer;
  base: string;
  /** Every log line the API and Herald wrote (JSON text). */
  logs: string[];
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  stop(): Promise<void>;
}

export interface CallOptions {
  key?: string | undefined;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers by their documented shape
  body: any;
}

export async function startApi(
  overrides: HeraldConfigInput = {},
  api: NonNullable<HeraldConfigInput['api']> = {},
  redisHandle?: RedisHandle,
): Promise<ApiStack> {
  const redis = redisHandle ?? (await startRedis());
  const config = defaultConfig({
    ...overrides,
    redis: { url: redis.url, prefix: PREFIX },
    api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }], ...api },
    events: { log_level: 'silent' },
  });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const herald = await createHerald(config, { logger });
  const server = createApiServer({ herald, config, logger });
  const { port } = await server.listen();
  const base = `http://127.0.0.1:${port}`;
  return {
    redis,
    herald,
    server,
    base,
    logs,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
      let body: string | Buffer | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async stop() {
      await server.close();
      await herald.close();
      if (!redisHandle) await redis.stop();
    },
  };
}

/** A tenant key made in the stack's Redis (as `herald tenant key create` does). */
export async function tenantKey(stack: ApiStack, tenant: string): Promise<string> {
  return (await new TenantKeyStore(stack.redis.client(), PREFIX).create(tenant)).key;
}

const WAIT_POLL_MS = 50;
const WAIT_MAX_POLLS = 400;

/** Polls `probe` until it returns a value (not undefined or false): at most WAIT_MAX_POLLS times. */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  let last: unknown;
  for (let poll = 0; poll < WAIT_MAX_POLLS; poll++) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    last = value;
    await delay(WAIT_POLL_MS);
  }
  throw new Error(`gave up waiting for ${what} (last: ${String(last)})`);
}
