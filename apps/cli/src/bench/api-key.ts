/**
 * The tenant API key `herald bench --api` sends with: created in the relay's Redis for the run
 * (as `herald tenant key create` does), revoked when the run ends, so a bench against a shared
 * REDIS_URL leaves no live key behind.
 * Owns: a short-lived Redis connection per call. Guarantees: the key is never printed.
 * Needs injected: the Redis URL and key prefix of the relay, the tenant.
 */
import { connectRedis } from '@herald/delivery-core';
import { TenantKeyStore } from '@herald/delivery-core/apikeys';

const KEY_LABEL = 'herald bench';
const CONNECT_TIMEOUT_MS = 10_000;

export interface BenchKey {
  /** The bearer key (a secret: never print it). */
  readonly key: string;
  revoke(): Promise<void>;
}

async function withStore<T>(
  url: string,
  prefix: string,
  work: (store: TenantKeyStore) => Promise<T>,
): Promise<T> {
  const redis = await connectRedis(url, {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 },
  });
  try {
    return await work(new TenantKeyStore(redis, prefix));
  } finally {
    redis.disconnect();
  }
}

export async function createBenchKey(url: string, prefix: string, tenant: string): Promise<BenchKey> {
  const { key, info } = await withStore(url, prefix, (store) => store.create(tenant, KEY_LABEL));
  return {
    key,
    revoke: async () => {
      await withStore(url, prefix, (store) => store.revoke(info.id));
    },
  };
}
