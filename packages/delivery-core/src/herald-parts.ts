/**
 * The small pieces createHerald wires together: connecting to Redis with a bound, the shaping
 * file in force, static routes in the form delivery uses, and the follow-up of failed recipients
 * (DSNs to senders, suppression of hard bounces).
 */
import type { Redis } from 'ioredis';
import { type HeraldConfig, parseHostPort, type Route, tenantPolicy } from './config/index.js';
import { type FollowUpDeps, followUpFailures } from './delivery/follow-up.js';
import type { DeliveryWorkerOptions, StaticRoute } from './delivery/index.js';
import { HeraldError } from './errors/index.js';
import { newMessageId } from './queue/ids.js';
import { loadProviderDefaults, loadShapingFile, parseShaping, type Shaping } from './shaping/index.js';

/** How long createHerald waits for Redis before failing. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000;

/** Default port of a route's `via` when it names none. */
const ROUTE_PORT = 25;

export function toStaticRoute(route: Route | undefined): StaticRoute | undefined {
  if (!route) return undefined;
  return { match: route.match, via: parseHostPort(route.via, ROUTE_PORT), tls: route.tls, auth: route.auth };
}

export async function connectOrFail(redis: Redis, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), REDIS_CONNECT_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    throw new HeraldError(
      'HERALD_REDIS_UNAVAILABLE',
      `cannot connect to Redis at ${url}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The shaping file of `shaping.file` (over the shipped provider defaults unless turned off). */
export function loadShaping(config: HeraldConfig): Shaping {
  const { file, provider_defaults: providerDefaults } = config.shaping;
  if (file) return loadShapingFile(file, { providerDefaults });
  return providerDefaults ? loadProviderDefaults() : parseShaping({});
}

/** The worker's `afterFailures`: DSNs through `enqueueDsn`, hard bounces to `suppress`. */
export function failureFollowUp(
  config: HeraldConfig,
  parts: Pick<FollowUpDeps, 'getBody' | 'enqueueDsn' | 'suppress' | 'countHardBounces'>,
): NonNullable<DeliveryWorkerOptions['afterFailures']> {
  const deps: FollowUpDeps = {
    ...parts,
    hostname: config.smtp.hostname,
    wantsDsn: (tenant) => tenantPolicy(config, tenant).dsn,
    newId: () => newMessageId(),
    now: Date.now,
  };
  return (data, failures) => followUpFailures(data, failures, deps);
}
