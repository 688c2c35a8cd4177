/**
 * Strict durability on a Redis Cluster. WAIT / WAITAOF answer for the master the connection is
 * on, so the barrier works per master:
 * - at start it reads every master's facts (INFO, CONFIG GET appendfsync) and plans each
 *   (durability-plan.ts: a master with a replica waits for it, since a failover promotes it);
 *   a master that cannot keep the promise stops the start (HERALD_REDIS_NOT_DURABLE naming it and
 *   the fix);
 * - `afterCommit(written)` maps each written key's slot to its master in the barrier client's
 *   slot map *at the call*, right after the writes were acknowledged (no `written`: every master),
 *   and runs one round per such master, all in parallel: on the client's connection to that
 *   master, `INCR` of the master's own mark (a key in one of its slots, keys/durability.ts, found
 *   from the slot map and found again when the map changes) then WAIT 1 / WAITAOF 1 0;
 * - rounds are grouped per master (durability-rounds.ts): one out at a time, callers meanwhile
 *   share the next, calls in one synchronous stretch share one;
 * - after a failover: a master that is gone from the slot map fails its callers' round (the
 *   write it acknowledged may not be on its replica); a master the barrier has not planned yet
 *   (a promoted replica, a resharded node) is probed in its first round, and while its plan is
 *   refused (no replica yet, no appendfsync always) its rounds fail: 451 / 503, never a 250 the
 *   cluster cannot keep. A stale map only makes a round fail (MOVED on the INCR, a dead node).
 * Each round is bounded by `timeoutMs + REPLY_GRACE_MS` (probe included).
 * Needs injected: a way to open the barrier's own cluster connection.
 */
import type { Cluster, Redis } from 'ioredis';
import { clusterMarkIn, hashSlot } from '../keys/index.js';
import { clusterNode, isCluster, nodeKey, slotMaster } from '../redis/index.js';
import { DeadlineExceeded, withDeadline } from '../util/index.js';
import type { DurabilityBarrier, OpenDurabilityOptions } from './durability.js';
import type { DurabilityMode } from './durability-plan.js';
import {
  inOneStretch,
  markAndWait,
  notDurable,
  REPLY_GRACE_MS,
  readPlan,
  sharedRounds,
  unavailable,
} from './durability-rounds.js';

/** Opens the barrier's own cluster connection, plans every master; refuses a master that cannot keep strict. */
export async function openClusterBarrier(options: OpenDurabilityOptions): Promise<DurabilityBarrier> {
  const conn = await options.connect();
  try {
    if (!isCluster(conn)) throw new Error('the durability barrier of a cluster needs a cluster connection');
    const planned = await Promise.all(
      conn.nodes('master').map(async (node) => {
        const key = nodeKey(node);
        const plan = await readPlan(node).catch((err: Error) => {
          throw notDurable(
            `master ${key} of the ${options.where} refused INFO (${err.message}), so Herald cannot ` +
              "tell how it keeps writes; allow INFO for Herald's user",
            err,
          );
        });
        return { key, plan };
      }),
    );
    if (planned.length === 0) throw notDurable(`the ${options.where} has no master serving slots`);
    const refused = planned.flatMap(({ key, plan }) => (plan.ok ? [] : [{ key, plan }]));
    const [first] = refused;
    if (first) {
      // Every master, each with its reason, then the fix once (it is the same for each).
      const who = refused.map(({ key, plan }) => `master ${key} (${plan.reason})`).join(', ');
      throw notDurable(
        `${refused.length === 1 ? 'this master' : `these ${refused.length} masters`} of the ` +
          `${options.where} cannot promise that an acknowledged write survives a crash: ${who}; ${first.plan.fix}`,
      );
    }
    const plans = new Map<string, DurabilityMode>();
    for (const { key, plan } of planned) if (plan.ok) plans.set(key, plan.mode);
    const why = planned.map(({ key, plan }) => `${key}: ${plan.ok ? plan.why : ''}`).join('; ');
    options.logger.info(
      { durability: 'strict', masters: Object.fromEntries(plans) },
      `redis.durability strict on a cluster, per master: ${why}`,
    );
    return new ClusterBarrier(conn, plans, options);
  } catch (err) {
    conn.disconnect();
    throw err;
  }
}

/** How long a plan makes a 250 wait, in rank: the barrier's `mode` is its masters' slowest. */
const WAIT_RANK: Readonly<Record<DurabilityMode, number>> = {
  'fsync-always': 0,
  waitaof: 1,
  'wait-replica': 2,
};

function slowestMode(modes: Iterable<DurabilityMode>): DurabilityMode {
  let slowest: DurabilityMode = 'fsync-always';
  for (const mode of modes) if (WAIT_RANK[mode] > WAIT_RANK[slowest]) slowest = mode;
  return slowest;
}

class ClusterBarrier implements DurabilityBarrier {
  readonly mode: DurabilityMode;
  /** Rounds per master (`host:port`), each grouped. */
  private readonly rounds = new Map<string, () => Promise<void>>();
  /** Each master's mark and its slot, valid while the slot map gives that slot to the master. */
  private readonly marks = new Map<string, { key: string; slot: number }>();

  constructor(
    private readonly conn: Cluster,
    /** The plan of each master known so far (`host:port` → mode). */
    private readonly plans: Map<string, DurabilityMode>,
    private readonly options: Pick<OpenDurabilityOptions, 'prefix' | 'timeoutMs' | 'logger'>,
  ) {
    this.mode = slowestMode(plans.values());
  }

  afterCommit(written?: readonly string[]): Promise<void> {
    let targets: string[];
    try {
      targets = written === undefined ? this.everyMaster() : this.mastersOf(written);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.all(targets.map((master) => this.roundsOf(master)())).then(() => undefined);
  }

  close(): void {
    this.conn.disconnect();
  }

  /**
   * Every master a Herald key can live on: all of them, unless the prefix's own hash tag pins every
   * key (marks too) to one slot.
   */
  private everyMaster(): string[] {
    return this.conn
      .nodes('master')
      .map(nodeKey)
      .filter((master) => this.findMark(master) !== undefined);
  }

  /** The masters serving the written keys' slots, as the slot map says now. */
  private mastersOf(written: readonly string[]): string[] {
    const found = new Set<string>();
    for (const key of written) {
      const slot = hashSlot(key);
      const master = slotMaster(this.conn, slot);
      if (master === undefined)
        throw unavailable(`no master serves slot ${slot} now (a failover under way?)`);
      found.add(master);
    }
    return [...found];
  }

  private roundsOf(master: string): () => Promise<void> {
    let run = this.rounds.get(master);
    if (!run) {
      const bound = this.options.timeoutMs + REPLY_GRACE_MS;
      const round = () =>
        withDeadline(this.round(master), bound, `durability barrier (master ${master})`).catch((err) => {
          throw err instanceof DeadlineExceeded ? unavailable(err.message, err) : err;
        });
      run = inOneStretch(sharedRounds(round));
      this.rounds.set(master, run);
    }
    return run;
  }

  /** One round on `master`: its plan (probed if new), its mark, INCR + WAIT on its connection. */
  private async round(master: string): Promise<void> {
    const node = clusterNode(this.conn, master);
    if (node === undefined)
      throw unavailable(`master ${master}, which took the write, is no longer in the cluster (a failover?)`);
    const mode = this.plans.get(master) ?? (await this.probe(master, node));
    const mark = mode === 'fsync-always' ? '' : this.markOf(master);
    await markAndWait(node, mark, mode, this.options.timeoutMs, master);
  }

  /** Plans a master first seen after the start; a refused plan fails the round and is asked again next time. */
  private async probe(master: string, node: Redis): Promise<DurabilityMode> {
    const plan = await readPlan(node).catch((err: Error) => {
      throw unavailable(`master ${master} did not answer INFO (${err.message})`, err);
    });
    if (!plan.ok) throw unavailable(`master ${master}: ${plan.reason}`);
    this.plans.set(master, plan.mode);
    this.options.logger.info(
      { durability: 'strict', master, mode: plan.mode },
      `redis.durability strict: new master ${master}: ${plan.why}`,
    );
    return plan.mode;
  }

  /** The master's mark: a key in one of its slots now (searched again after the map moved it). */
  private markOf(master: string): string {
    const found = this.findMark(master);
    if (found === undefined) throw unavailable(`no mark key hashes to a slot of master ${master}`);
    return found;
  }

  private findMark(master: string): string | undefined {
    const cached = this.marks.get(master);
    if (cached && slotMaster(this.conn, cached.slot) === master) return cached.key;
    const found = clusterMarkIn(this.options.prefix, (slot) => slotMaster(this.conn, slot) === master);
    if (found !== undefined) this.marks.set(master, found);
    return found?.key;
  }
}
