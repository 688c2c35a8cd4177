/**
 * Picks the source IP a job leaves from at a site: the pool chosen for its tenant and stream
 * (`pool_selection`), minus the IPs suspended at the site (automation's suspend_source) and the
 * warming IPs whose daily cap at the site is used up, then weighted random (a job keeps the IP it
 * had while that stays usable). Warm-up caps are counted in Redis per (IP, site, UTC day) with
 * DailyCap, so every relay shares them; once a warming IP's cap is reached the pool's other IPs
 * (the seasoned ones) take the overflow; with none left the job waits for the next UTC day. A take
 * is a reservation: an admission that fails after it (Redis) gives it back, so failures do not eat
 * the day's cap. An admitted attempt keeps it even when nothing was sent (connection refused), as
 * KumoMTA's source_selection_rate counts a source's selection, not what was delivered.
 * Needs injected: the shaping file, a DailyCap, a clock, randomness.
 */
import { warmupCapKey } from '../keys/index.js';
import type { DailyCap } from '../throttle/index.js';
import { nextUtcDay, pickSource, selectPool, warmupCap } from './pools.js';
import type { Shaping } from './schema.js';

export interface PickedSource {
  pool: string;
  ip: string;
  ehloName?: string;
  /** Today's cap at the site while the IP warms up; absent for a seasoned IP. */
  cap?: number;
}

export type SourcePick =
  | { kind: 'none' }
  | { kind: 'picked'; source: PickedSource }
  | { kind: 'wait'; until: number; reason: string };

/** Recipients counted against a warming IP's cap by `take`; `giveBack` returns them (best effort). */
export interface WarmupTake {
  giveBack(): Promise<void>;
}

/** A take that counted nothing (a seasoned IP, no caps enforced, no recipient). */
const NOTHING_TAKEN: WarmupTake = { giveBack: async () => {} };

/** In-process memory of full warm-up caps, bounded (oldest dropped first). */
const CAPPED_MAX_ENTRIES = 10_000;

export class SourcePicker {
  /** `<site>|<ip>` → when this process may try the IP's cap at the site again (next UTC day). */
  private readonly capped = new Map<string, number>();

  constructor(
    private readonly options: {
      shaping: Shaping;
      dailyCap?: DailyCap | undefined;
      now(): number;
      random?: () => number;
    },
  ) {}

  pick(
    site: string,
    mail: { tenant: string; stream?: string | undefined; source?: string | undefined },
    suspended: ReadonlyMap<string, number> | undefined,
  ): SourcePick {
    const selected = selectPool(this.options.shaping, mail);
    if (!selected) return { kind: 'none' };
    const now = this.options.now();
    const waits: number[] = [];
    const usable = selected.pool.sources.filter((s) => {
      const suspendedUntil = suspended?.get(s.ip);
      if (suspendedUntil !== undefined && suspendedUntil > now) {
        waits.push(suspendedUntil);
        return false;
      }
      const cappedUntil = this.capped.get(`${site}|${s.ip}`);
      if (cappedUntil !== undefined && cappedUntil > now && warmupCap(selected.pool, s, now) !== undefined) {
        waits.push(cappedUntil);
        return false;
      }
      return true;
    });
    const source = pickSource(usable, mail.source, this.options.random);
    if (!source) {
      return {
        kind: 'wait',
        until: Math.min(...waits),
        reason: `pool ${selected.name}: every source IP is suspended or at its warm-up cap at ${site}`,
      };
    }
    const ehloName = this.options.shaping.sources[source.ip]?.ehlo_name;
    const cap = warmupCap(selected.pool, source, now);
    return {
      kind: 'picked',
      source: {
        pool: selected.name,
        ip: source.ip,
        ...(ehloName ? { ehloName } : {}),
        ...(cap !== undefined ? { cap } : {}),
      },
    };
  }

  /**
   * Counts `n` recipients against a warming IP's cap at `site` today: what to give them back with,
   * or undefined when the cap is full (the IP is then left out at this site here until the next
   * UTC day). A give-back goes to the day of the take, whenever it runs.
   */
  async take(site: string, source: PickedSource, n: number): Promise<WarmupTake | undefined> {
    const { dailyCap } = this.options;
    if (source.cap === undefined || !dailyCap) return NOTHING_TAKEN;
    const now = this.options.now();
    const key = warmupCapKey(source.ip, site, now);
    const { taken } = await dailyCap.take(key, n, source.cap);
    if (!taken) {
      if (this.capped.size >= CAPPED_MAX_ENTRIES) this.capped.delete(this.capped.keys().next().value!);
      this.capped.set(`${site}|${source.ip}`, nextUtcDay(now));
      return undefined;
    }
    if (n < 1) return NOTHING_TAKEN;
    return { giveBack: async () => void (await dailyCap.giveBack(key, n)) };
  }
}
