/**
 * A cluster client's `connect()` that settles. ioredis (5.x, `Cluster#connect`) resolves its
 * promise only when the first ready check passes: when that check fails (CLUSTER INFO says
 * `cluster_state:fail`, as it does for a moment after a master dies) the client reconnects on its
 * own and becomes ready later, but that first promise never settles. BullMQ awaits it when it
 * re-opens a blocking connection whose read went unanswered (a worker's watchdog): the worker then
 * waited for good with jobs ready (test/cluster-failover.test.ts, about one run in twenty).
 * `guardConnectSettles(cluster)` wraps `connect` on the instance: the promise also resolves when
 * the client emits `ready` and rejects when it emits `end` (closed for good). It relies only on
 * `connect` and the client's events.
 */
import type { Cluster } from 'ioredis';

/** Makes every `connect()` of `cluster` settle once the client is ready or has ended. */
export function guardConnectSettles<T extends Cluster>(cluster: T): T {
  const connect = cluster.connect;
  if (typeof connect !== 'function') return cluster;
  cluster.connect = function settlingConnect(this: Cluster) {
    const attempt = connect.call(this);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.off('ready', onReady);
        this.off('end', onEnd);
      };
      const onReady = () => {
        done();
        resolve();
      };
      const onEnd = () => {
        done();
        reject(new Error('Connection is closed.'));
      };
      this.once('ready', onReady);
      this.once('end', onEnd);
      attempt.then(
        () => {
          done();
          resolve();
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
    });
  } as Cluster['connect'];
  return cluster;
}
