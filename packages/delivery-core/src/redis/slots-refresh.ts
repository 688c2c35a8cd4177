/**
 * The periodic slot-map refresh of a cluster client (`slotsRefreshInterval`), made to stop when
 * the client is closed. ioredis's own (5.x, `Cluster.resetNodesRefreshInterval`) re-arms its timer
 * from the callback of the refresh in flight: a client disconnected while a refresh waits for a
 * slow node (a frozen replica, the moment a master dies) keeps a timer that re-arms itself
 * forever, every `slotsRefreshInterval`, on a client with no nodes. It held a test process open
 * for good after its cluster failover test had passed; in a library user's service, every closed
 * client leaks one, and a re-connected one runs two rounds.
 * `guardSlotsRefresh(cluster)` replaces that method on the instance (cluster-guards.ts also on
 * its duplicates) with one that ends a round when the client is closing or closed, or when a
 * newer round has started (a reconnect), and never holds the process open. It relies on ioredis
 * internals, checked here: the instance method `resetNodesRefreshInterval` (called when the
 * client becomes ready), `refreshSlotsCache`, and the `slotsTimer` field it arms, which
 * `clearNodesRefreshInterval` (called by disconnect and quit) clears. If they are gone, the client
 * is left as ioredis made it (test/slots-refresh.test.ts fails first, on an upgrade).
 */
import type { Cluster } from 'ioredis';

/** Client states in which no further round may start. */
const CLOSED_STATES: ReadonlySet<string> = new Set(['disconnecting', 'close', 'end']);

/** The ioredis internals this relies on. */
interface RefreshInternals {
  status: string;
  options: { slotsRefreshInterval?: number };
  slotsTimer: NodeJS.Timeout | null;
  resetNodesRefreshInterval(): void;
  clearNodesRefreshInterval(): void;
  refreshSlotsCache(callback?: (err?: Error | null) => void): void;
}

/** Whether the installed ioredis still has what the guard replaces. */
export function canGuardSlotsRefresh(cluster: Cluster): boolean {
  const c = cluster as unknown as Partial<RefreshInternals>;
  return (
    typeof c.resetNodesRefreshInterval === 'function' &&
    typeof c.refreshSlotsCache === 'function' &&
    typeof c.clearNodesRefreshInterval === 'function'
  );
}

/** Makes `cluster`'s periodic slot refresh stop with the client. */
export function guardSlotsRefresh<T extends Cluster>(cluster: T): T {
  const c = cluster as unknown as RefreshInternals;
  if (!canGuardSlotsRefresh(cluster)) return cluster;
  let round = 0;
  c.resetNodesRefreshInterval = function resetNodesRefreshInterval(this: RefreshInternals) {
    const intervalMs = this.options.slotsRefreshInterval;
    if (this.slotsTimer || !intervalMs) return;
    const mine = ++round;
    const next = () => {
      // A refresh that ended after a disconnect, or after a reconnect started a newer round.
      if (mine !== round || CLOSED_STATES.has(this.status)) return;
      this.slotsTimer = setTimeout(() => this.refreshSlotsCache(next), intervalMs);
      this.slotsTimer.unref();
    };
    next();
  };
  return cluster;
}
