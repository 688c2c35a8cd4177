/**
 * The live shaping state of one delivery path, read from Redis without changing it, for
 * `herald shaping explain`: the site's suspension and rate cut with time left, the source IP's
 * suspension at the site, connections in use on the lane (site, or site@source IP) across every
 * relay against its concurrency window, the lane's next free rate slot, the tenant's, and a warming IP's count against today's cap.
 */
import type { Herald } from '@herald/delivery-core';
import {
  connectionLeaseKey,
  laneOf,
  laneRateKey,
  laneWindowKey,
  tenantRateKey,
  warmupCapKey,
} from '@herald/delivery-core/keys';
import {
  clampWindow,
  type EffectiveLimits,
  formatRate,
  type Shaping,
  selectPool,
  warmupCap,
} from '@herald/delivery-core/shaping';
import { DailyCap, LeasedSemaphore, RateLimiter } from '@herald/delivery-core/throttle';

export interface ExplainedSource {
  pool?: string;
  ip?: string;
  /** One line for the operator. */
  describe: string;
}

/** The pool and source IP for `mail` (and `--ip`), as the gate would choose them. */
export function sourceFor(
  shaping: Shaping,
  mail: { tenant: string; stream?: string | undefined },
  ip: string | undefined,
): ExplainedSource {
  const selected = selectPool(shaping, mail);
  const owner = ip
    ? Object.entries(shaping.pools).find(([, pool]) => pool.sources.some((s) => s.ip === ip))
    : undefined;
  const pool = ip ? owner?.[0] : selected?.name;
  const via = selected
    ? `pool ${selected.name} (pool_selection for tenant ${mail.tenant}, stream ${mail.stream ?? 'transactional'})`
    : 'no pool_selection rule matches: the system picks the address';
  if (!ip) {
    const ips = selected?.pool.sources.map((s) => `${s.ip} weight ${s.weight}`).join(', ');
    return { ...(pool ? { pool } : {}), describe: ips ? `${via}: ${ips}` : via };
  }
  const inPool = owner ? `${ip} in pool ${owner[0]}` : `${ip} (in no pool)`;
  const mismatch = selected && selected.name !== owner?.[0] ? `; note: this mail would use ${via}` : '';
  return { ...(pool ? { pool } : {}), ip, describe: `${inPool}${mismatch}` };
}

function secondsLeft(until: number, now: number): string {
  return `${Math.max(0, Math.ceil((until - now) / 1000))} s left`;
}

export async function liveState(
  herald: Herald,
  path: {
    site: string;
    limits: EffectiveLimits;
    mail: { tenant: string };
    source: ExplainedSource;
  },
): Promise<string[]> {
  const { site, limits, source } = path;
  const keyPrefix = herald.config.redis.prefix;
  const lane = laneOf(site, source.ip);
  const now = Date.now();
  const live: string[] = [];
  const condition = await herald.inspect.siteState.condition(site);
  live.push(
    condition.suspendedUntil
      ? `site suspended, ${secondsLeft(condition.suspendedUntil, now)}`
      : 'site not suspended',
  );
  if (condition.slow)
    live.push(`site slowed to ${formatRate(condition.slow.rate)}, ${secondsLeft(condition.slow.until, now)}`);
  const sourceUntil = source.ip ? condition.suspendedSources?.get(source.ip) : undefined;
  if (sourceUntil) live.push(`source ${source.ip} suspended at the site, ${secondsLeft(sourceUntil, now)}`);

  const held = await new LeasedSemaphore(herald.inspect.redis, { keyPrefix }).held(connectionLeaseKey(lane));
  const stored = await herald.inspect.redis.get(laneWindowKey(keyPrefix, lane));
  const window = stored === null ? undefined : Number(stored);
  const allowed = clampWindow(window ?? limits.initial_connections, limits.max_connections);
  live.push(
    `connections in use on ${lane}: ${held} of ${allowed} allowed now (all relays); ` +
      (window === undefined
        ? `window at its initial ${limits.initial_connections}, grows to max_connections ${limits.max_connections}`
        : `window ${window.toFixed(2)} (concurrency feedback), max_connections ${limits.max_connections}`),
  );
  const limiter = new RateLimiter(herald.inspect.redis, { keyPrefix });
  const rate = limits.max_message_rate;
  if (rate) {
    const wait = await limiter.nextFreeInMs(laneRateKey(lane), rate);
    live.push(`next free slot at ${formatRate(rate)}: ${wait === 0 ? 'now' : `in ${wait} ms`}`);
  }
  const tenantName = path.mail.tenant.toLowerCase();
  const tenant = Object.hasOwn(herald.inspect.shaping.tenants, tenantName)
    ? herald.inspect.shaping.tenants[tenantName]
    : undefined;
  if (tenant?.max_message_rate) {
    const wait = await limiter.nextFreeInMs(tenantRateKey(tenantName), tenant.max_message_rate);
    live.push(`tenant ${tenantName} next free slot: ${wait === 0 ? 'now' : `in ${wait} ms`}`);
  }
  const pool = source.pool ? herald.inspect.shaping.pools[source.pool] : undefined;
  const poolSource = pool?.sources.find((s) => s.ip === source.ip);
  if (pool && poolSource) {
    const cap = warmupCap(pool, poolSource, now);
    if (cap === undefined) live.push(`${source.ip} is seasoned (no warm-up cap)`);
    else {
      const key = warmupCapKey(poolSource.ip, site, now);
      const [used] = await new DailyCap(herald.inspect.redis, { keyPrefix }).counts([key]);
      live.push(`${source.ip} warming up: ${used} of ${cap} sent to this site today (UTC)`);
    }
  }
  return live;
}
