/**
 * Source IP pools as pure decisions: which pool a message leaves from (`selectPool`: the first
 * `pool_selection` rule whose tenant and stream match), a warming IP's daily cap at a site
 * (`warmupCap`: the schedule step in force on the IP's day N, UTC; none once the schedule is
 * over), and which of a pool's IPs to use (`pickSource`: weighted random among the usable ones,
 * keeping the IP a job used before while it stays usable). No I/O; randomness is injected.
 */
import type { PoolShaping, Shaping } from './schema.js';
import type { PoolSource } from './sources-schema.js';

export const DEFAULT_STREAM = 'transactional';
const MS_PER_DAY = 86_400_000;

/** The pool for a tenant's mail of a stream, or undefined: no pool, the system picks the address. */
export function selectPool(
  shaping: Shaping,
  mail: { tenant: string; stream?: string | undefined },
): { name: string; pool: PoolShaping } | undefined {
  const tenant = mail.tenant.toLowerCase();
  const stream = (mail.stream ?? DEFAULT_STREAM).toLowerCase();
  for (const rule of shaping.pool_selection) {
    if (rule.tenant !== undefined && rule.tenant !== tenant) continue;
    if (rule.stream !== undefined && rule.stream !== stream) continue;
    const pool = Object.hasOwn(shaping.pools, rule.pool) ? shaping.pools[rule.pool] : undefined;
    if (pool) return { name: rule.pool, pool };
  }
  return undefined;
}

/** Epoch ms of the UTC midnight that starts the day of `now`. */
export function utcDayStart(now: number): number {
  return Math.floor(now / MS_PER_DAY) * MS_PER_DAY;
}

/** The UTC day of `now` as "YYYY-MM-DD" (names the warm-up counters). */
export function utcDayName(now: number): string {
  return new Date(utcDayStart(now)).toISOString().slice(0, 10);
}

/** When the next UTC day starts: a capped warming IP may send again then. */
export function nextUtcDay(now: number): number {
  return utcDayStart(now) + MS_PER_DAY;
}

/**
 * The daily cap of `source` at one site on the day of `now`, or undefined when it has none
 * (seasoned: no warmup_from, or past the schedule's last day). Before its first day an IP is
 * capped by the first step.
 */
export function warmupCap(pool: PoolShaping, source: PoolSource, now: number): number | undefined {
  if (source.warmup_from === undefined || !pool.warmup) return undefined;
  const day = Math.floor((utcDayStart(now) - source.warmup_from) / MS_PER_DAY) + 1;
  const steps = pool.warmup.schedule;
  if (day > steps[steps.length - 1]!.day) return undefined;
  let cap = steps[0]!.daily_cap;
  for (const step of steps) if (step.day <= day) cap = step.daily_cap;
  return cap;
}

/**
 * One of `candidates` (the pool's usable IPs): `preferred` when it is among them (a job keeps its
 * IP, so its bookings stay valid), else weighted random. Undefined when there is none.
 */
export function pickSource(
  candidates: readonly PoolSource[],
  preferred: string | undefined,
  random: () => number = Math.random,
): PoolSource | undefined {
  if (candidates.length === 0) return undefined;
  const kept = preferred === undefined ? undefined : candidates.find((s) => s.ip === preferred);
  if (kept) return kept;
  const total = candidates.reduce((sum, s) => sum + s.weight, 0);
  let point = random() * total;
  for (const source of candidates) {
    point -= source.weight;
    if (point < 0) return source;
  }
  return candidates[candidates.length - 1];
}
