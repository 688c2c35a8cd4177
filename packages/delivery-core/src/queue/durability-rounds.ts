/**
 * The pieces of a strict-durability round, shared by one server's barrier (durability.ts) and a
 * cluster's (durability-cluster.ts): a server's plan read from it (`readPlan`), one bounded
 * `INCR <mark>` + WAIT / WAITAOF on one connection, or for `fsync-always` a CONFIG GET that the
 * server still fsyncs every write (`markAndWait`), group commit of rounds
 * (`sharedRounds`) and of calls within one synchronous stretch (`inOneStretch`), and the two
 * errors: HERALD_REDIS_NOT_DURABLE at start, HERALD_REDIS_UNAVAILABLE for a round that failed.
 */
import type { Redis } from 'ioredis';
import { HeraldError } from '../errors/index.js';
import type { RedisClient } from '../redis/index.js';
import { withDeadline } from '../util/index.js';
import {
  type DurabilityMode,
  type DurabilityPlan,
  parseServerFacts,
  planDurability,
} from './durability-plan.js';

/** The client waits this much longer than the server's own WAIT timeout for the reply. */
export const REPLY_GRACE_MS = 1_000;

/** The plan for one server (or one cluster master) from its INFO and CONFIG GET appendfsync. */
export async function readPlan(node: RedisClient): Promise<DurabilityPlan> {
  const info = await node.info();
  const appendfsync = await node.config('GET', 'appendfsync').then(
    (reply) => (Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null),
    () => null,
  );
  return planDurability(parseServerFacts(info, appendfsync));
}

/** "<who> cannot promise …: <reason>; <fix>" for a refused plan. */
export function refusal(who: string, plan: Extract<DurabilityPlan, { ok: false }>): string {
  return `${who} cannot promise that an acknowledged write survives a crash: ${plan.reason}; ${plan.fix}`;
}

export function notDurable(detail: string, cause?: unknown): HeraldError {
  return new HeraldError(
    'HERALD_REDIS_NOT_DURABLE',
    `redis.durability: strict, but ${detail}`,
    cause === undefined ? undefined : { cause },
  );
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

/**
 * Calls of the returned function within one synchronous stretch (until the microtasks queued in
 * it have run) share the promise of the first call. Sound for the barrier: every write such a
 * caller saw acknowledged was acknowledged before the stretch, so before the shared round's INCR.
 */
export function inOneStretch<T>(run: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    if (current === undefined) {
      current = run();
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current;
  };
}

/**
 * One round on `conn` (a server, or one cluster master): `INCR markKey` then WAITAOF 1 0 / WAIT 1,
 * pipelined, bounded (for `fsync-always`: the check that it still holds); rejects with
 * HERALD_REDIS_UNAVAILABLE unless the write is acknowledged. A `wait-replica` round also asks
 * `CONFIG GET appendonly` in the same pipeline: a replica counts only under a master with AOF
 * (durability-plan.ts), so a master whose AOF was turned off since the start answers 451, not a
 * silent downgrade (a server that refuses CONFIG GET was planned from INFO and is not asked).
 * `who` names the master in the error (cluster).
 */
export async function markAndWait(
  conn: Redis,
  markKey: string,
  mode: DurabilityMode,
  timeoutMs: number,
  who = '',
): Promise<void> {
  const at = who === '' ? '' : ` (master ${who})`;
  if (mode === 'fsync-always') return stillFsyncsAlways(conn, timeoutMs, at);
  const ms = String(timeoutMs);
  const pipeline = conn.pipeline().incr(markKey);
  if (mode === 'waitaof') pipeline.call('WAITAOF', '1', '0', ms);
  else pipeline.call('WAIT', '1', ms).config('GET', 'appendonly');
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await withDeadline(pipeline.exec(), timeoutMs + REPLY_GRACE_MS, 'durability barrier');
  } catch (err) {
    throw unavailable(`${(err as Error).message}${at}`, err);
  }
  const [mark, ack, aof] = replies ?? [];
  const failed = [mark, ack].find((reply) => !reply || reply[0]);
  if (failed) throw unavailable(`${failed[0]?.message ?? 'no reply'}${at}`, failed[0]);
  if (mode === 'wait-replica' && aofTurnedOff(aof))
    throw unavailable(
      `Redis${at} no longer has AOF on (appendonly no; it had at start), so its replicas do not ` +
        'protect the write: restore it, or restart the relay to plan again',
    );
  if (acknowledged(mode, ack![1])) return;
  throw unavailable(
    mode === 'waitaof'
      ? `Redis${at} did not fsync the write to its AOF within ${ms} ms`
      : `no replica${at} acknowledged the write within ${ms} ms`,
  );
}

/**
 * The `fsync-always` round: the server still has AOF on with `appendfsync always` (CONFIG GET
 * append*, asked after the writes it covers were acknowledged, so it answers for them). A server
 * reconfigured since the start (`CONFIG SET appendfsync everysec`, `appendonly no`) would otherwise
 * turn every later 250 into a silent downgrade; it answers 451 instead.
 */
async function stillFsyncsAlways(conn: Redis, timeoutMs: number, at: string): Promise<void> {
  let reply: unknown;
  try {
    reply = await withDeadline(
      conn.config('GET', 'append*'),
      timeoutMs + REPLY_GRACE_MS,
      'durability barrier',
    );
  } catch (err) {
    throw unavailable(`CONFIG GET append* failed${at}: ${(err as Error).message}`, err);
  }
  const settings = new Map<string, unknown>();
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) settings.set(reply[i], reply[i + 1]);
  const appendonly = settings.get('appendonly');
  const appendfsync = settings.get('appendfsync');
  if (appendonly === 'yes' && appendfsync === 'always') return;
  throw unavailable(
    `Redis${at} no longer fsyncs every write (appendonly ${String(appendonly)}, appendfsync ` +
      `${String(appendfsync)}; it had appendfsync always at start): restore it, or restart the relay to plan again`,
  );
}

/** CONFIG GET appendonly answered `no` (a refused or odd answer says nothing: not checked). */
function aofTurnedOff(reply: [Error | null, unknown] | undefined): boolean {
  const value = !reply || reply[0] || !Array.isArray(reply[1]) ? undefined : reply[1][1];
  return value === 'no';
}

/** WAIT answers how many replicas have the write; WAITAOF [local fsyncs, replica fsyncs]. */
function acknowledged(mode: 'waitaof' | 'wait-replica', reply: unknown): boolean {
  if (mode === 'wait-replica') return typeof reply === 'number' && reply >= 1;
  return Array.isArray(reply) && typeof reply[0] === 'number' && reply[0] >= 1;
}

export function unavailable(detail: string, cause?: unknown): HeraldError {
  return new HeraldError(
    'HERALD_REDIS_UNAVAILABLE',
    `write not durable (redis.durability: strict): ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}
