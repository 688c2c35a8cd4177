/**
 * The strict-durability barrier (`redis.durability: strict`): `afterCommit()` is called once a
 * write was acknowledged (the spool's enqueue EXEC, a bounce report's writes) and resolves only
 * when that write is on disk or on a replica; the 250 / 202 / send() resolve wait for it.
 * The plan comes from the server once, at start (durability-plan.ts), and is logged once:
 * - `fast` and `fsync-always`: nothing to wait for (resolved at once);
 * - `waitaof` / `wait-replica`: the barrier's OWN connection pipelines `INCR <mark>` then
 *   `WAITAOF 1 0 <t>` / `WAIT 1 <t>`. Both commands wait for the calling connection's last write;
 *   the INCR is that write, and it comes after every write acknowledged before afterCommit() was
 *   called, and the replication / AOF stream is one ordered log — so the ack covers them all,
 *   whichever connection wrote them. The command connection never blocks on a WAIT.
 * Group commit: one round runs at a time; callers arriving meanwhile share the next round, so
 * one fsync / replica ack covers every batch committed while the previous round was out.
 * Bounded: the server waits at most `timeoutMs`, the client `timeoutMs + REPLY_GRACE_MS`; too few
 * acks, a lost connection or the deadline reject with HERALD_REDIS_UNAVAILABLE (451 4.3.0 / 503),
 * though the write stays in Redis and may still be delivered (the usual SMTP duplicate).
 * Needs injected: the command connection (to probe), a way to open the barrier's own connection.
 */

import { HeraldError } from '../errors/index.js';
import type { RedisClient } from '../redis/index.js';
import { withDeadline } from '../util/index.js';
import { type DurabilityMode, parseServerFacts, planDurability } from './durability-plan.js';

export type Durability = 'fast' | 'strict';

export interface DurabilityBarrier {
  /** `fast`, or the strict plan in use. */
  readonly mode: 'fast' | DurabilityMode;
  /** Resolves once every write acknowledged before this call is on disk or on a replica. */
  afterCommit(): Promise<void>;
  /** Drops the barrier's own connection (if any). */
  close(): void;
}

export interface OpenDurabilityOptions {
  durability: Durability;
  /** The command connection: INFO and CONFIG GET are read through it. */
  redis: RedisClient;
  /** Opens the barrier's own connection (waiting plans only). */
  connect(): Promise<RedisClient>;
  /** The key the barrier INCRs (keys/durability.ts). */
  markKey: string;
  /** How long the server may wait for the fsync / replica ack (the Redis deadline of a session). */
  timeoutMs: number;
  /** Where the Redis is, for the refusal message (masked URL). */
  where: string;
  logger: { info(obj: object, msg: string): void };
}

/** The client waits this much longer than the server's own WAIT timeout for the reply. */
export const REPLY_GRACE_MS = 1_000;

const IMMEDIATE: Omit<DurabilityBarrier, 'mode'> = { afterCommit: () => Promise.resolve(), close() {} };

/**
 * The barrier for `options.durability`; in strict mode reads the server's facts first and throws
 * HERALD_REDIS_NOT_DURABLE (with the fix) when the server cannot keep the promise.
 */
export async function openDurabilityBarrier(options: OpenDurabilityOptions): Promise<DurabilityBarrier> {
  if (options.durability === 'fast') return { mode: 'fast', ...IMMEDIATE };
  const { redis, logger } = options;
  const info = await redis.info().catch((err: Error) => {
    throw new HeraldError(
      'HERALD_REDIS_NOT_DURABLE',
      `redis.durability: strict, but the Redis at ${options.where} refused INFO (${err.message}), ` +
        "so Herald cannot tell how it keeps writes; allow INFO for Herald's user",
      { cause: err },
    );
  });
  const appendfsync = await redis.config('GET', 'appendfsync').then(
    (reply) => (Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null),
    () => null,
  );
  const plan = planDurability(parseServerFacts(info, appendfsync));
  if (!plan.ok)
    throw new HeraldError(
      'HERALD_REDIS_NOT_DURABLE',
      `redis.durability: strict, but the Redis at ${options.where} cannot promise that an ` +
        `acknowledged write survives a crash: ${plan.reason}; ${plan.fix}`,
    );
  logger.info({ durability: 'strict', mode: plan.mode }, `redis.durability strict: ${plan.why}`);
  if (plan.mode === 'fsync-always') return { mode: plan.mode, ...IMMEDIATE };
  return new GroupBarrier(plan.mode, await options.connect(), options.markKey, options.timeoutMs);
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Group commit of rounds: the returned function runs `round` at once when none is running;
 * callers arriving while one runs all share the single next round, started when it ends. Each
 * caller gets the outcome of the first round that started after its call.
 */
export function sharedRounds(round: () => Promise<void>): () => Promise<void> {
  let running = false;
  let next: Deferred | null = null;
  const start = (): Promise<void> => {
    running = true;
    const current = round();
    const after = () => {
      running = false;
      const waiting = next;
      next = null;
      if (waiting) start().then(waiting.resolve, waiting.reject);
    };
    current.then(after, after);
    return current;
  };
  return () => {
    if (!running) return start();
    next ??= deferred();
    return next.promise;
  };
}

/** WAIT / WAITAOF rounds on a connection of its own, one at a time, shared by every caller. */
class GroupBarrier implements DurabilityBarrier {
  readonly afterCommit: () => Promise<void>;

  constructor(
    readonly mode: 'waitaof' | 'wait-replica',
    private readonly conn: RedisClient,
    private readonly markKey: string,
    private readonly timeoutMs: number,
  ) {
    this.afterCommit = sharedRounds(() => this.round());
  }

  private async round(): Promise<void> {
    const ms = String(this.timeoutMs);
    const pipeline = this.conn.pipeline().incr(this.markKey);
    if (this.mode === 'waitaof') pipeline.call('WAITAOF', '1', '0', ms);
    else pipeline.call('WAIT', '1', ms);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await withDeadline(pipeline.exec(), this.timeoutMs + REPLY_GRACE_MS, 'durability barrier');
    } catch (err) {
      throw unavailable(`${(err as Error).message}`, err);
    }
    const [mark, ack] = replies ?? [];
    const failed = [mark, ack].find((reply) => !reply || reply[0]);
    if (failed) throw unavailable(failed[0]?.message ?? 'no reply', failed[0]);
    if (acknowledged(this.mode, ack![1])) return;
    throw unavailable(
      this.mode === 'waitaof'
        ? `Redis did not fsync the write to its AOF within ${ms} ms`
        : `no replica acknowledged the write within ${ms} ms`,
    );
  }

  close(): void {
    this.conn.disconnect();
  }
}

/** WAIT answers how many replicas have the write; WAITAOF [local fsyncs, replica fsyncs]. */
function acknowledged(mode: 'waitaof' | 'wait-replica', reply: unknown): boolean {
  if (mode === 'wait-replica') return typeof reply === 'number' && reply >= 1;
  return Array.isArray(reply) && typeof reply[0] === 'number' && reply[0] >= 1;
}

function unavailable(detail: string, cause?: unknown): HeraldError {
  return new HeraldError(
    'HERALD_REDIS_UNAVAILABLE',
    `write not durable (redis.durability: strict): ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}
