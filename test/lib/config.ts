/**
 * The configuration every e2e stack starts from: loopback listeners on free ports, the loopback
 * DNS server, MX deliveries to the sinks' shared port, short timeouts so failures are quick, a
 * 1 s retry schedule without jitter, silent logs. Tests override keys with `mergeConfig`.
 * Owns: nothing at run time. Guarantees: the result is a plain config input (what a YAML/JSON
 * config file would hold), so it can go to `defaultConfig` or be written to a file for a child.
 * HERALD_TEST_SHARDS=<n> runs every stack on a queue of n shards (`queue.shards`), so any e2e
 * test also checks the sharded queue: `HERALD_TEST_SHARDS=4 node --test test/<file>.test.ts`.
 */
import type { HeraldConfigInput } from '@herald/delivery-core';

export const RELAY_HOSTNAME = 'relay.herald.test';
/** Short timeouts: every failure in these tests is a loopback failure, seen in milliseconds. */
export const CONNECT_TIMEOUT = '2s';
export const COMMAND_TIMEOUT = '5s';
export const DNS_TIMEOUT = '1s';
export const RETRY_DELAY = '1s';
/** Jobs in flight per relay in the tests (the crash test bounds duplicates by it). */
export const TEST_CONCURRENCY = 10;

/** `queue.shards` of every stack (HERALD_TEST_SHARDS; default 1, today's single slot). */
export const TEST_SHARDS = Number(process.env.HERALD_TEST_SHARDS ?? 1);

export interface BaseConfigArgs {
  redisUrl: string;
  dnsAddress: string;
  /** delivery.port: the one port every sink listens on. */
  mxPort: number;
}

export function baseConfig({ redisUrl, dnsAddress, mxPort }: BaseConfigArgs): HeraldConfigInput {
  return {
    redis: { url: redisUrl },
    smtp: { listen: '127.0.0.1:0', hostname: RELAY_HOSTNAME, trusted_networks: ['127.0.0.1/32'] },
    http: { listen: '127.0.0.1:0' },
    dns: { servers: [dnsAddress], timeout: DNS_TIMEOUT, attempts: 2 },
    delivery: {
      port: mxPort,
      concurrency: TEST_CONCURRENCY,
      connect_timeout: CONNECT_TIMEOUT,
      greeting_timeout: COMMAND_TIMEOUT,
      command_timeout: COMMAND_TIMEOUT,
      data_timeout: COMMAND_TIMEOUT,
      idle_timeout: '1s',
    },
    retry: { schedule: [RETRY_DELAY], jitter: 0 },
    events: { log_level: 'silent' },
    ...(TEST_SHARDS > 1 ? { queue: { shards: TEST_SHARDS } } : {}),
  };
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of config inputs: objects merge key by key, anything else (arrays too) replaces. */
export function mergeConfig(
  base: HeraldConfigInput,
  ...overrides: (HeraldConfigInput | undefined)[]
): HeraldConfigInput {
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isPlain(a) || !isPlain(b)) return b === undefined ? a : b;
    const out: Plain = { ...a };
    for (const [key, value] of Object.entries(b)) out[key] = merge(a[key], value);
    return out;
  };
  return overrides.reduce<HeraldConfigInput>((acc, o) => merge(acc, o) as HeraldConfigInput, base);
}
