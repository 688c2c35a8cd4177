/**
 * The strict-durability barrier (`redis.durability: strict`): `afterCommit()` is called once a
 * write was acknowledged (the spool's enqueue EXEC, a bounce report's writes) and resolves only
 * when that write is on disk or on a replica; the 250 / 202 / send() resolve wait for it.
 * The plan comes from the server once, at start (durability-plan.ts), and is logged once:
 * - `fast`: nothing to wait for (resolved at once);
 * - `fsync-always`: Redis fsynced before it answered; the barrier's own connection asks
 *   `CONFIG GET append*` whether that still holds (a server reconfigured since the start answers
 *   451, never a silent downgrade);
 * - `waitaof` / `wait-replica`: the barrier's OWN connection pipelines `INCR <mark>` then
 *   `WAITAOF 1 0 <t>` / `WAIT 1 <t>` (`markAndWait`). Both commands wait for the calling
 *   connection's last write; the INCR is that write, and it comes after every write acknowledged
 *   before afterCommit() was called, and the replication / AOF stream is one ordered log — so the
 *   ack covers them all, whichever connection wrote them. The command connection never blocks on
 *   a WAIT.
 * On a Redis Cluster that log is one per master: durability-cluster.ts runs the same round on each
 * master that took the writes (`afterCommit(written)`), with a plan and a mark per master.
 * Group commit: one round runs at a time (per master); callers arriving meanwhile share the next
 * round, so one fsync / replica ack covers every batch committed while the previous round was out;
 * calls within one synchronous stretch (the spool's, one per shard) share one round.
 * Bounded: the server waits at most `timeoutMs`, the client `timeoutMs + REPLY_GRACE_MS`; too few
 * acks, a lost connection or the deadline reject with HERALD_REDIS_UNAVAILABLE (451 4.3.0 / 503),
 * though the write stays in Redis and may still be delivered (the usual SMTP duplicate).
 * Needs injected: the command connection (to probe), a way to open the barrier's own connection.
 */

import type { Redis } from 'ioredis';
import { durabilityMarkKey } from '../keys/index.js';
import { isCluster, type RedisClient } from '../redis/index.js';
import { openClusterBarrier } from './durability-cluster.js';
import type { DurabilityMode } from './durability-plan.js';
import {
  inOneStretch,
  markAndWait,
  notDurable,
  readPlan,
  refusal,
  sharedRounds,
} from './durability-rounds.js';

export type Durability = 'fast' | 'strict';

export interface DurabilityBarrier {
  /** `fast`, or the strict plan in use (on a cluster, the one that waits longest among its masters'). */
  readonly mode: 'fast' | DurabilityMode;
  /**
   * Resolves once every write acknowledged before this call is on disk or on a replica. On a
   * cluster only the masters serving `written` (a key of each slot written) are waited for;
   * without `written`, every master. One server ignores `written`.
   */
  afterCommit(written?: readonly string[]): Promise<void>;
  /** Drops the barrier's own connection (if any). */
  close(): void;
}

export interface OpenDurabilityOptions {
  durability: Durability;
  /** The command connection: INFO and CONFIG GET are read through it (one server). */
  redis: RedisClient;
  /** Opens the barrier's own connection (waiting plans, and every cluster). */
  connect(): Promise<RedisClient>;
  /** `redis.prefix`: the marks the barrier INCRs are named from it (keys/durability.ts). */
  prefix: string;
  /** How long the server may wait for the fsync / replica ack (the Redis deadline of a session). */
  timeoutMs: number;
  /** Where the Redis is, for the refusal message (masked URL). */
  where: string;
  logger: { info(obj: object, msg: string): void };
}

const IMMEDIATE: Omit<DurabilityBarrier, 'mode'> = { afterCommit: () => Promise.resolve(), close() {} };

/**
 * The barrier for `options.durability`; in strict mode reads the server's facts first (every
 * master's on a cluster) and throws HERALD_REDIS_NOT_DURABLE (with the fix) when the server cannot
 * keep the promise.
 */
export async function openDurabilityBarrier(options: OpenDurabilityOptions): Promise<DurabilityBarrier> {
  if (options.durability === 'fast') return { mode: 'fast', ...IMMEDIATE };
  if (isCluster(options.redis)) return openClusterBarrier(options);
  const { redis, logger } = options;
  const plan = await readPlan(redis).catch((err: Error) => {
    throw notDurable(
      `the Redis at ${options.where} refused INFO (${err.message}), so Herald cannot tell how it ` +
        "keeps writes; allow INFO for Herald's user",
      err,
    );
  });
  if (!plan.ok) throw notDurable(refusal(`the Redis at ${options.where}`, plan));
  logger.info({ durability: 'strict', mode: plan.mode }, `redis.durability strict: ${plan.why}`);
  const mode = plan.mode;
  const conn = await options.connect();
  const markKey = durabilityMarkKey(options.prefix);
  return {
    mode,
    afterCommit: inOneStretch(
      sharedRounds(() => markAndWait(conn as Redis, markKey, mode, options.timeoutMs)),
    ),
    close: () => conn.disconnect(),
  };
}
