/**
 * Every place Herald relies on BullMQ beyond its documented API, behind one accessor each (bullmq
 * is pinned to an exact version for this reason). What Herald relies on:
 * 1. `enqueue-in-multi`: `(await queue.client).multi()` is an ioredis MULTI that takes plain
 *    commands, and `job.addJob(multi)` queues exactly ADD_JOB_COMMANDS command on it,
 *    synchronously (its reply comes back in EXEC like any other). The spool and `herald bench
 *    --backlog` write a message's keys and its jobs in one MULTI this way. ioredis sends a
 *    script as EVAL the first time on a socket and as EVALSHA after, and counts it sent even when
 *    Redis refused to queue it (a full Redis refuses every command in a MULTI: `EXECABORT`); its
 *    NOSCRIPT fallback does not reach a command inside a MULTI, so the next MULTI's EVALSHA would
 *    fail with NOSCRIPT *inside* the EXEC while the MULTI's other commands run (a lease removed,
 *    its job not added). So after an aborted MULTI the connection's add-job scripts are loaded
 *    (`SCRIPT LOAD`, allowed while Redis is full) before its next one (`queueTransaction`).
 * 2. `worker-abandon`: a Worker's private `blockingConnection.disconnect`, `lockManager.close` and
 *    `stalledCheckStopper`, used only when a close hangs (jobs stuck, Redis unreachable), to stop
 *    its timers and drop its connections.
 * 3. `worker-stalled-stop`: a Worker's private `stalledCheckStopper`, which its stalled-job
 *    checker sets each time it arms the timer of its next check (after each check, without
 *    looking whether the worker is closing), used by `PacedWorker` to stop at once a timer armed
 *    after close.
 * Each accessor checks what it relies on and throws BullmqContractError naming the touchpoint;
 * packages/delivery-core/test/bullmq-contract.test.ts (`worker-stalled-stop`: paced-worker.test.ts)
 * runs every one against the installed BullMQ and a real redis-server, so an upgrade that changes
 * one fails there first.
 */
import type { Job, Queue, Worker } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { masters, type RedisClient } from '../redis/index.js';
import { settlesWithin } from '../util/index.js';

/** Commands `job.addJob(multi)` queues on a MULTI (one add*Job script call). */
export const ADD_JOB_COMMANDS = 1;

export type BullmqTouchpoint = 'enqueue-in-multi' | 'worker-abandon' | 'worker-stalled-stop';

/** The installed BullMQ no longer behaves as Herald relies on (see bullmq-internals.ts). */
export class BullmqContractError extends Error {
  constructor(
    readonly touchpoint: BullmqTouchpoint,
    detail: string,
  ) {
    super(
      `bullmq changed under Herald's touchpoint "${touchpoint}": ${detail} (see queue/bullmq-internals.ts)`,
    );
    this.name = 'BullmqContractError';
  }
}

/** The scripts BullMQ's `job.addJob` picks from (Scripts.addJob), by name without the version. */
const ADD_JOB_SCRIPTS = new Set(['addStandardJob', 'addDelayedJob', 'addPrioritizedJob', 'addParentJob']);

interface ScriptDefinitions {
  scriptsSet?: Record<string, { lua: string; numberOfKeys: number | null }>;
}

/**
 * A MULTI on which plain ioredis commands and addJobInMulti mix. On the queue's own connection,
 * or, given `lean`, on that one: BullMQ's add-job scripts are defined on it once (copied from the
 * queue's connection, version suffix and all) and the MULTI gets the `runCommand` BullMQ calls
 * them through. A MULTI on BullMQ's connection costs ~24 µs to build (ioredis copies every one of
 * its ~50 scripts into each pipeline) and goes through BullMQ's client proxy on every command.
 */
export async function queueTransaction(queue: Queue, lean?: RedisClient): Promise<ChainableCommander> {
  const client = await queue.client;
  if (!lean) {
    const own = client as unknown as RedisClient;
    await loadScriptsInDoubt(own, client as unknown as ScriptDefinitions);
    // BullMQ's transaction type omits plain commands; it is an ioredis MULTI underneath.
    return checkedMulti(client.multi() as unknown as ChainableCommander, own);
  }
  defineAddJobScripts(client as unknown as ScriptDefinitions, lean);
  await loadScriptsInDoubt(lean, client as unknown as ScriptDefinitions);
  const multi = checkedMulti(lean.multi() as unknown as ChainableCommander, lean);
  const commands = multi as unknown as Record<string, (...args: unknown[]) => unknown>;
  commands.runCommand = (name: unknown, args: unknown) => {
    const run = commands[String(name)];
    if (typeof run !== 'function')
      throw new BullmqContractError(
        'enqueue-in-multi',
        `BullMQ ran script ${String(name)}, not an add-job script`,
      );
    return run.call(multi, args);
  };
  return multi;
}

/**
 * `multi`, checked, whose EXEC aborted (a command refused at queueing: a full Redis) marks
 * `connection`'s add-job scripts as in doubt (the header: ioredis counts them sent).
 */
function checkedMulti(multi: ChainableCommander, connection: RedisClient): ChainableCommander {
  if (
    typeof multi.exec !== 'function' ||
    typeof multi.length !== 'number' ||
    typeof multi.sadd !== 'function'
  )
    throw new BullmqContractError('enqueue-in-multi', 'queue.client.multi() is not an ioredis MULTI');
  const exec = multi.exec.bind(multi);
  multi.exec = (() =>
    exec().catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('EXECABORT')) scriptsInDoubt.add(connection);
      throw err;
    })) as ChainableCommander['exec'];
  return multi;
}

/** Connections a MULTI was refused on since their add-job scripts were last loaded. */
const scriptsInDoubt = new WeakSet<RedisClient>();

/**
 * Loads BullMQ's add-job scripts (as `definitions` holds them) on every master `connection`
 * reaches, when a refused MULTI left them in doubt there; throws as SCRIPT LOAD does (the mark
 * stays: the next MULTI loads them again).
 */
async function loadScriptsInDoubt(connection: RedisClient, definitions: ScriptDefinitions): Promise<void> {
  if (!scriptsInDoubt.has(connection)) return;
  const scripts = Object.entries(definitions.scriptsSet ?? {})
    .filter(([name]) => ADD_JOB_SCRIPTS.has(name.split(':')[0] ?? ''))
    .map(([, script]) => script.lua);
  await Promise.all(masters(connection).flatMap((node) => scripts.map((lua) => node.script('LOAD', lua))));
  scriptsInDoubt.delete(connection);
}

/** Lean connections the add-job scripts are defined on already. */
const withAddJobScripts = new WeakSet<RedisClient>();

/** Defines on `lean`, once, each add-job script of BullMQ's connection. */
function defineAddJobScripts(bullmq: ScriptDefinitions, lean: RedisClient): void {
  if (withAddJobScripts.has(lean)) return;
  const scripts = bullmq.scriptsSet;
  if (!scripts) throw new BullmqContractError('enqueue-in-multi', "the queue's connection has no scriptsSet");
  let found = 0;
  for (const [name, script] of Object.entries(scripts)) {
    if (!ADD_JOB_SCRIPTS.has(name.split(':')[0] ?? '')) continue;
    found += 1;
    if (!(name in lean))
      lean.defineCommand(name, { lua: script.lua, numberOfKeys: script.numberOfKeys ?? undefined });
  }
  if (found < ADD_JOB_SCRIPTS.size)
    throw new BullmqContractError(
      'enqueue-in-multi',
      `the queue's connection lacks BullMQ's add-job scripts`,
    );
  withAddJobScripts.add(lean);
}

/** Queues `job`'s add script on `multi` (no parent); returns the commands it queued. */
export function addJobInMulti(multi: ChainableCommander, job: Job): number {
  const before = multi.length;
  const added = job.addJob(
    multi as never,
    { parentKey: undefined, parentDependenciesKey: undefined } as never,
  );
  // The script's reply (or error) comes back in EXEC; this promise only mirrors it.
  added.catch(() => {});
  const queued = multi.length - before;
  if (queued !== ADD_JOB_COMMANDS)
    throw new BullmqContractError(
      'enqueue-in-multi',
      `job.addJob(multi) queued ${queued} commands synchronously, expected ${ADD_JOB_COMMANDS}`,
    );
  return queued;
}

interface WorkerInternals {
  blockingConnection?: { disconnect(wait?: boolean): Promise<void> };
  stalledCheckStopper?: () => void;
  lockManager?: { close(): Promise<void> };
}

/** Throws unless `worker` has the private members abandonWorker uses (call it once, at start). */
export function checkWorkerInternals(worker: Worker): void {
  const internals = worker as unknown as WorkerInternals;
  if (typeof internals.blockingConnection?.disconnect !== 'function')
    throw new BullmqContractError('worker-abandon', 'Worker.blockingConnection.disconnect is gone');
  if (typeof internals.lockManager?.close !== 'function')
    throw new BullmqContractError('worker-abandon', 'Worker.lockManager.close is gone');
  const stopper = internals.stalledCheckStopper;
  if (stopper !== undefined && typeof stopper !== 'function')
    throw new BullmqContractError('worker-abandon', 'Worker.stalledCheckStopper is not a function');
}

/**
 * Gives up on a worker whose close() does not finish: stops its stalled-job timer and lock
 * renewal and drops both connections (waiting at most `disconnectMs`), so nothing keeps
 * reconnecting or keeps the process alive. Its unfinished jobs come back after their lock expires.
 */
export async function abandonWorker(worker: Worker, disconnectMs: number): Promise<void> {
  const internals = worker as unknown as WorkerInternals;
  internals.stalledCheckStopper?.();
  void internals.lockManager?.close().catch(() => {});
  await settlesWithin(
    Promise.all([worker.disconnect(), internals.blockingConnection?.disconnect(false)]),
    disconnectMs,
  );
}

/**
 * Stops at once every stalled-job timer `worker` arms once `closing` is aborted. BullMQ's checker
 * arms its next `stalledInterval` timer after each check, and close() stops only the one armed
 * before it ends: a check that ends later (one Redis refused, then BullMQ's 5 s wait) armed one
 * nothing stopped, and the closed worker held the process open for up to `stalledInterval`.
 */
export function stopStalledChecksAfter(worker: Worker, closing: AbortSignal): void {
  let stopper = (worker as unknown as WorkerInternals).stalledCheckStopper;
  if (stopper !== undefined && typeof stopper !== 'function')
    throw new BullmqContractError('worker-stalled-stop', 'Worker.stalledCheckStopper is not a function');
  Object.defineProperty(worker, 'stalledCheckStopper', {
    configurable: true,
    enumerable: true,
    get: () => stopper,
    set: (next: (() => void) | undefined) => {
      stopper = next;
      if (closing.aborted) next?.();
    },
  });
}
