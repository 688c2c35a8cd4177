/**
 * The e2e stack: a private Redis, a loopback DNS server, SMTP sinks on 127.0.0.x (all on ONE port,
 * delivery.port) and a relay built with createRelay in this process, plus a client to submit
 * mail, an event log, HTTP GETs and the end-of-test audit ("queue idle, and every accepted
 * recipient has exactly one terminal event in the Redis stream").
 * Owns: everything it starts; stop() closes all of it (relay first, Redis last) and is idempotent.
 * Needs injected: sink addresses/scripts, the DNS zone and config overrides, per test.
 * Redis Cluster: `opts.cluster` (a started cluster, shared by a file's tests, not stopped here) or
 * HERALD_TEST_REDIS=cluster (a 3-master cluster per stack) runs the stack on a cluster; then
 * `redis.client()` is a Cluster client and the single-server verbs (kill, restart, url, pid)
 * throw, so only tests that need none of them run on the cluster (test/cluster.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultConfig,
  type HeraldConfigInput,
  type HeraldEvent,
  type RedisClient,
  readEvents,
  scanKeys,
} from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import { allShards } from '@herald/delivery-core/queue';
import { createRelay, type Relay, type RelayOptions } from '@herald/relay';
import {
  type DnsServerHandle,
  type RedisClusterHandle,
  type RedisHandle,
  type SinkScript,
  type SmtpSinkHandle,
  type StartRedisOptions,
  startDnsServer,
  startRedis,
  startRedisCluster,
  startReplica,
  startSmtpSink,
  type Zone,
} from '@herald/test-harness';
import { baseConfig, mergeConfig } from './config.js';
import { EventLog, terminalEventProblems } from './events.js';
import {
  type ClientOptions,
  type SendResult,
  SmtpClient,
  type SubmitOptions,
  submit,
} from './smtp-client.js';
import { DEFAULT_WAIT_MS, waitUntil } from './wait.js';

/** A loopback address where nothing listens on the sinks' port: "the MX refuses the connection". */
export const NOTHING_LISTENS = '127.0.0.9';
export const FIRST_SINK_HOST = '127.0.0.2';
const SINK_START_ATTEMPTS = 3;

export interface SinkSpec {
  host: string;
  script?: SinkScript;
  starttls?: boolean;
  /** The sink's SIZE limit in bytes (default the harness's 25 MiB). */
  size?: number;
  /** Extensions the sink offers (harness defaults: DSN off, 8BITMIME and SMTPUTF8 on). */
  dsn?: boolean;
  eightBitMime?: boolean;
  smtputf8?: boolean;
}

/** Zone entries: `domain` MX → one host per entry, named mx<i>.<domain>, with an A record. */
export function mxZone(domain: string, hosts: { preference: number; address: string }[]): Zone {
  const zone: Zone = { [domain]: { MX: [] } };
  hosts.forEach(({ preference, address }, i) => {
    const exchange = `mx${i + 1}.${domain}`;
    zone[domain]!.MX!.push({ preference, exchange });
    zone[exchange] = { A: [address] };
  });
  return zone;
}

/** Set to `cluster` to run every stack of a test file on a private 3-master Redis Cluster. */
export const TEST_REDIS_ENV = 'HERALD_TEST_REDIS';

export interface PartsOptions {
  /** Run on this (already started) cluster instead of a private redis-server; not stopped here. */
  cluster?: RedisClusterHandle;
  /** Default: one sink on 127.0.0.2. */
  sinks?: (string | SinkSpec)[];
  /** Default: example.test MX → the first sink. */
  zone?: Zone;
  /** How the stack's redis-server is started (default: AOF everysec). */
  redis?: StartRedisOptions;
  /** Also start a replica of it (online before the relay starts). */
  replica?: boolean;
}

export interface Parts {
  /** The private redis-server; on a cluster, only client() and stop() work (see the header). */
  redis: RedisHandle;
  /** The replica of `redis`, when asked for (PartsOptions.replica). */
  replica?: RedisHandle;
  /** The cluster the stack runs on, if any. */
  cluster?: RedisClusterHandle;
  dns: DnsServerHandle;
  sinks: SmtpSinkHandle[];
  /** delivery.port: every sink listens on it. */
  mxPort: number;
  /** The base test config for these parts, with `overrides` merged in. */
  config(overrides?: HeraldConfigInput): HeraldConfigInput;
  stop(): Promise<void>;
}

async function startSinks(specs: SinkSpec[]): Promise<SmtpSinkHandle[]> {
  let lastError: unknown;
  for (let attempt = 0; attempt < SINK_START_ATTEMPTS; attempt++) {
    const started: SmtpSinkHandle[] = [];
    try {
      for (const spec of specs) {
        const port = started[0]?.port ?? 0;
        started.push(
          await startSmtpSink({
            host: spec.host,
            port,
            starttls: spec.starttls ?? false,
            script: spec.script ?? {},
            ...(spec.size !== undefined ? { size: spec.size } : {}),
            ...(spec.dsn !== undefined ? { dsn: spec.dsn } : {}),
            ...(spec.eightBitMime !== undefined ? { eightBitMime: spec.eightBitMime } : {}),
            ...(spec.smtputf8 !== undefined ? { smtputf8: spec.smtputf8 } : {}),
          }),
        );
      }
      return started;
    } catch (err) {
      // The first sink's port may be taken on another 127.0.0.x address: pick a new one.
      lastError = err;
      await Promise.all(started.map((s) => s.close()));
    }
  }
  throw lastError;
}

/** Redis, DNS and sinks, without a relay (the crash test runs the relay in a child process). */
export async function startParts(opts: PartsOptions = {}): Promise<Parts> {
  const specs = (opts.sinks ?? [FIRST_SINK_HOST]).map((s) => (typeof s === 'string' ? { host: s } : s));
  const { redis, cluster, redisConfig, stopRedis } = await startTestRedis(opts.cluster, opts.redis);
  const cleanups: (() => Promise<void>)[] = [stopRedis];
  try {
    const replica = opts.replica ? await startReplica(redis) : undefined;
    if (replica) cleanups.unshift(() => replica.stop());
    const sinks = await startSinks(specs);
    cleanups.unshift(async () => void (await Promise.all(sinks.map((s) => s.close()))));
    const zone =
      opts.zone ?? mxZone('example.test', [{ preference: 10, address: specs[0]?.host ?? FIRST_SINK_HOST }]);
    const dns = await startDnsServer({ zone });
    cleanups.unshift(() => dns.close());
    const mxPort = sinks[0]?.port ?? 25;
    let stopping: Promise<void> | undefined;
    return {
      redis,
      ...(replica ? { replica } : {}),
      ...(cluster ? { cluster } : {}),
      dns,
      sinks,
      mxPort,
      config: (overrides) =>
        mergeConfig(
          { ...baseConfig({ redisUrl: '', dnsAddress: dns.address, mxPort }), redis: redisConfig },
          overrides,
        ),
      stop: () => (stopping ??= runAll(cleanups)),
    };
  } catch (err) {
    await runAll(cleanups);
    throw err;
  }
}

interface TestRedis {
  redis: RedisHandle;
  cluster?: RedisClusterHandle;
  /** The config's `redis` section for it. */
  redisConfig: { url: string } | { cluster: string[] };
  stopRedis(): Promise<void>;
}

/** A private redis-server, or a cluster (given, or HERALD_TEST_REDIS=cluster: started here). */
async function startTestRedis(
  shared: RedisClusterHandle | undefined,
  options?: StartRedisOptions,
): Promise<TestRedis> {
  if (shared === undefined && process.env[TEST_REDIS_ENV] !== 'cluster') {
    const redis = await startRedis(options);
    return { redis, redisConfig: { url: redis.url }, stopRedis: () => redis.stop() };
  }
  const cluster = shared ?? (await startRedisCluster({ masters: 3 }));
  const singleOnly = (what: string) => () => {
    throw new Error(`${what} is for a single redis-server; this stack runs on a Redis Cluster`);
  };
  const redis = {
    // A Cluster client where tests expect a Redis: they send it commands only (see the header).
    client: () => cluster.client() as unknown as ReturnType<RedisHandle['client']>,
    stop: () => (shared ? Promise.resolve() : cluster.stop()),
    kill: singleOnly('kill()'),
    restart: singleOnly('restart()'),
    get url(): string {
      return singleOnly('url')();
    },
    get pid(): number {
      return singleOnly('pid')();
    },
    host: '127.0.0.1',
    get port(): number {
      return singleOnly('port')();
    },
    dir: '',
  } satisfies RedisHandle;
  return { redis, cluster, redisConfig: { cluster: cluster.seeds }, stopRedis: () => redis.stop() };
}

/** Every key matching `pattern`, on every master of a cluster (KEYS would ask one node). */
async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of scanKeys(redis, pattern)) out.push(...keys);
  return [...new Set(out)];
}

/** Runs every cleanup in order even if some fail; rethrows the first failure. */
async function runAll(cleanups: (() => Promise<void>)[]): Promise<void> {
  let first: unknown;
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export interface StackOptions extends PartsOptions {
  config?: HeraldConfigInput;
  relay?: Omit<RelayOptions, 'tlsCacheDir'>;
}

export interface Stack extends Parts {
  relay: Relay;
  smtp: { host: string; port: number };
  http: { host: string; port: number };
  /** The HTTP API's address, when the config has an `api` section. */
  api?: { host: string; port: number } | undefined;
  events: EventLog;
  /** The test's own connection to the stack's Redis (not Herald's), for reads the verbs do not cover. */
  redisClient: RedisClient;
  /** Submits one message to the relay's SMTP listener (AUTH when `auth` is given). */
  submit(message: Omit<SubmitOptions, 'port' | 'host'>): Promise<SendResult>;
  /** An open client session on the relay's SMTP listener. */
  client(opts?: Omit<ClientOptions, 'port' | 'host'>): Promise<SmtpClient>;
  get(path: string): Promise<{ status: number; body: string }>;
  /** Everything in Herald's Redis event stream (`<prefix>:{queue}:events`), oldest first. */
  streamEvents(): Promise<HeraldEvent[]>;
  /** Resolves once no delivery job is waiting, active or delayed. */
  waitForIdleQueue(timeoutMs?: number): Promise<void>;
  /**
   * Waits for the queue to be idle, then asserts on the Redis stream that every accepted
   * recipient has exactly one terminal event. Returns the stream's events.
   */
  assertEveryRecipientTerminatedOnce(timeoutMs?: number): Promise<HeraldEvent[]>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const parts = await startParts(opts);
  const tlsCacheDir = await mkdtemp(join(tmpdir(), 'herald-e2e-tls-'));
  let relay: Relay | undefined;
  let events: EventLog | undefined;
  const stopAll = async () => {
    events?.close();
    try {
      await relay?.stop();
    } finally {
      await rm(tlsCacheDir, { recursive: true, force: true });
      await parts.stop();
    }
  };
  try {
    const config = defaultConfig(parts.config(opts.config));
    relay = await createRelay(config, { ...opts.relay, tlsCacheDir });
    const herald = relay.herald;
    events = new EventLog((listener) => herald.events.on(listener));
    const addresses = await relay.start();
    assert.ok(addresses.smtp && addresses.http, 'the test relay runs the smtp and http roles');
    const { smtp, http } = addresses;
    const redisClient: RedisClient = parts.cluster ? parts.cluster.client() : parts.redis.client();
    // Every queue shard's keys (queue.shards): the audit reads them all.
    const shardKeys = () => allShards(herald.shards.layout).map((s) => queueKeys(config.redis.prefix, s));
    const allEvents = async () =>
      (await Promise.all(shardKeys().map((k) => readEvents(redisClient, k.events)))).flat();
    const waitForIdleQueue = async (timeoutMs = DEFAULT_WAIT_MS) => {
      let last = '';
      await waitUntil(
        'an idle delivery queue',
        async () => {
          const { totals } = await herald.queueStats({ maxJobs: 0 });
          // A message whose last job finished may still have its DSN reports to spool, and a
          // delay notice claimed may not be spooled yet (the collector's due zsets,
          // delivery/dsn-reports.ts): not idle until they are.
          let reportsDue = 0;
          for (const keys of shardKeys())
            reportsDue +=
              (await redisClient.zcard(keys.dsnDue)) + (await redisClient.zcard(keys.dsnDelayDue));
          last = JSON.stringify({ ...totals, reportsDue });
          return totals.ready + totals.scheduled + totals.inFlight + reportsDue === 0;
        },
        { timeoutMs },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; queue counts ${last}`);
      });
    };
    let stopping: Promise<void> | undefined;
    return {
      ...parts,
      relay,
      redisClient,
      smtp,
      http,
      api: addresses.api,
      events,
      submit: (message) => submit({ ...message, host: smtp.host, port: smtp.port }),
      client: (clientOpts = {}) => SmtpClient.connect({ ...clientOpts, host: smtp.host, port: smtp.port }),
      async get(path) {
        const res = await fetch(`http://${http.host}:${http.port}${path}`);
        return { status: res.status, body: await res.text() };
      },
      async streamEvents() {
        await herald.events.flush();
        return allEvents();
      },
      waitForIdleQueue,
      async assertEveryRecipientTerminatedOnce(timeoutMs) {
        await waitForIdleQueue(timeoutMs);
        await herald.events.flush();
        const all = await allEvents();
        assert.ok(
          all.some((e) => e.type === 'accepted'),
          'the stream holds accepted events',
        );
        assert.deepEqual(
          terminalEventProblems(all),
          [],
          'every accepted recipient has exactly one terminal event',
        );
        // Once every job finished, the spool holds nothing: bodies and message records are gone
        // (each message's trace stays, for `herald message show`, until it expires).
        const spooled: string[] = [];
        const records: string[] = [];
        for (const keys of shardKeys()) {
          spooled.push(...(await keysMatching(redisClient, keys.body('*'))));
          records.push(
            ...(await keysMatching(redisClient, keys.message('*'))).filter((k) => !k.endsWith(':trace')),
          );
        }
        assert.deepEqual([...spooled, ...records], [], 'finished messages leave nothing in the spool');
        return all;
      },
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
