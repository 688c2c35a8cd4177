/**
 * The operator's lines for `herald shaping explain` from `herald.explain`'s plain data: the
 * source pool and IP as the gate would choose them, and the live shaping state (the site's
 * suspension and rate cut with time left, the source IP's suspension at the site, connections in
 * use on the lane across every relay against its concurrency window, the lane's and the tenant's
 * next free rate slot, and a warming IP's count against today's cap). Formatting only.
 */
import type { DeliveryExplanation, LiveShapingState } from '@herald/delivery-core';
import { formatRate } from '@herald/delivery-core/shaping';

const MS_PER_SECOND = 1_000;

/** One line on the source pool and IP. */
export function describeSource(explained: DeliveryExplanation): string {
  const { source, tenant, stream } = explained;
  const { selected, ip } = source;
  const via = selected
    ? `pool ${selected.pool} (pool_selection for tenant ${tenant}, stream ${stream})`
    : 'no pool_selection rule matches: the system picks the address';
  if (!ip) {
    const ips = selected?.sources.map((s) => `${s.ip} weight ${s.weight}`).join(', ');
    return ips ? `${via}: ${ips}` : via;
  }
  const inPool = source.pool ? `${ip} in pool ${source.pool}` : `${ip} (in no pool)`;
  const mismatch = selected && selected.pool !== source.pool ? `; note: this mail would use ${via}` : '';
  return `${inPool}${mismatch}`;
}

function secondsLeft(until: number, now: number): string {
  return `${Math.max(0, Math.ceil((until - now) / MS_PER_SECOND))} s left`;
}

function nextSlot(ms: number): string {
  return ms === 0 ? 'now' : `in ${ms} ms`;
}

/** The live state, one line per fact. */
export function liveLines(live: LiveShapingState, ip: string | undefined, now = Date.now()): string[] {
  const lines: string[] = [
    live.suspendedUntil ? `site suspended, ${secondsLeft(live.suspendedUntil, now)}` : 'site not suspended',
  ];
  if (live.slow)
    lines.push(`site slowed to ${formatRate(live.slow.rate)}, ${secondsLeft(live.slow.until, now)}`);
  if (live.sourceSuspendedUntil)
    lines.push(`source ${ip} suspended at the site, ${secondsLeft(live.sourceSuspendedUntil, now)}`);
  const c = live.connections;
  lines.push(
    `connections in use on ${live.lane}: ${c.held} of ${c.allowed} allowed now (all relays); ` +
      (c.window === undefined
        ? `window at its initial ${c.initial}, grows to max_connections ${c.max}`
        : `window ${c.window.toFixed(2)} (concurrency feedback), max_connections ${c.max}`),
  );
  if (live.laneRate)
    lines.push(
      `next free slot at ${formatRate(live.laneRate.rate)}: ${nextSlot(live.laneRate.nextFreeInMs)}`,
    );
  if (live.tenantRate)
    lines.push(`tenant ${live.tenantRate.tenant} next free slot: ${nextSlot(live.tenantRate.nextFreeInMs)}`);
  const w = live.warmup;
  if (w) {
    lines.push(
      w.cap === undefined
        ? `${w.ip} is seasoned (no warm-up cap)`
        : `${w.ip} warming up: ${w.sentToday ?? 0} of ${w.cap} sent to this site today (UTC)`,
    );
  }
  return lines;
}
