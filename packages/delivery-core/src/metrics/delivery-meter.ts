/**
 * What delivery measures that is not an event: shaping waits (an attempt the gate or the site's
 * connection leases held back; no attempt is spent, so no event is written) and the SMTP pool's
 * open connections per site. Owns: the wait counters and the reason → layer table
 * (THROTTLE_LAYERS, data), the snapshot format a delivery thread posts to the relay's main thread,
 * and `DeliverySnapshotBoard`, which sums the live threads' latest snapshots and keeps the counts
 * of threads that ended, so the counters stay monotonic across thread restarts.
 * Guarantees: a snapshot is plain data (structured-clone safe); counters in it are cumulative for
 * its thread's life. Its sites are capped as the exported ones are (siteLabelCap), so a thread's
 * snapshot stays small whatever the traffic; the main thread caps the merged series again.
 * Needs injected: the pool's open connections per site, at snapshot time.
 */

import { siteLabelCap } from './bounded-labels.js';

/** Why a job waited, by shaping layer: the first pattern matching the gate's reason wins. */
export const THROTTLE_LAYERS: readonly { layer: string; pattern: RegExp }[] = [
  { layer: 'site_suspended', pattern: /^site \S+ suspended$/ },
  { layer: 'tenant_paused', pattern: /^tenant \S+ paused$/ },
  { layer: 'tenant_rate', pattern: /^max_message_rate tenant:/ },
  { layer: 'campaign_rate', pattern: /^max_message_rate campaign:/ },
  { layer: 'site_rate', pattern: /^max_message_rate site:/ },
  { layer: 'site_concurrency', pattern: / has \d+ attempts in flight$/ },
  { layer: 'source_pool', pattern: /^pool \S+: every source IP/ },
  { layer: 'warmup_cap', pattern: /^warm-up cap of / },
  { layer: 'connection_rate', pattern: /is at its connection rate$/ },
  { layer: 'connection_limit', pattern: /is at its limit of \d+ connections$/ },
];
/** The layer of a reason no row matches. */
export const OTHER_THROTTLE_LAYER = 'other';

export function throttleLayer(reason: string): string {
  return THROTTLE_LAYERS.find((row) => row.pattern.test(reason))?.layer ?? OTHER_THROTTLE_LAYER;
}

/** One thread's delivery measurements. Keys of `waits` are `site\u0000layer`. */
export interface DeliverySnapshot {
  waits: Record<string, number>;
  connections: Record<string, number>;
  /** The thread's event-loop delay (p99 since its last snapshot), when it measures one. */
  eventLoopLagSeconds?: number;
}

const SEP = '\u0000';

export function waitKey(site: string, layer: string): string {
  return `${site}${SEP}${layer}`;
}

export function splitWaitKey(key: string): [site: string, layer: string] {
  const at = key.indexOf(SEP);
  return [key.slice(0, at), key.slice(at + 1)];
}

/** The delivery port (`DeliveryDeps.meter`) over local counters. */
export class DeliveryMeter {
  private readonly waits = new Map<string, number>();
  private readonly sites = siteLabelCap();

  /** A job the gate or the connection leases held back, with the gate's reason. */
  readonly throttled = (site: string | undefined, reason: string): void => {
    const key = waitKey(site ? this.sites.label(site) : '', throttleLayer(reason));
    this.waits.set(key, (this.waits.get(key) ?? 0) + 1);
  };

  snapshot(connections: ReadonlyMap<string, number>): DeliverySnapshot {
    return { waits: Object.fromEntries(this.waits), connections: Object.fromEntries(connections) };
  }
}

/** The relay's view of its delivery threads: latest snapshot per thread, plus ended threads' counts. */
export class DeliverySnapshotBoard {
  private readonly latest = new Map<number, DeliverySnapshot>();
  private readonly retired = new Map<string, number>();

  update(thread: number, snapshot: DeliverySnapshot): void {
    this.latest.set(thread, snapshot);
  }

  /** The thread ended: its waits stay counted, its connections and lag are gone. */
  retire(thread: number): void {
    const last = this.latest.get(thread);
    this.latest.delete(thread);
    if (!last) return;
    for (const [key, n] of Object.entries(last.waits))
      this.retired.set(key, (this.retired.get(key) ?? 0) + n);
  }

  /** Every live thread's snapshot, the ended threads' waits as one more (no connections). */
  snapshots(): { thread?: number; snapshot: DeliverySnapshot }[] {
    const out: { thread?: number; snapshot: DeliverySnapshot }[] = [...this.latest].map(
      ([thread, snapshot]) => ({ thread, snapshot }),
    );
    if (this.retired.size > 0)
      out.push({ snapshot: { waits: Object.fromEntries(this.retired), connections: {} } });
    return out;
  }
}
