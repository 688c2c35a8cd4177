/**
 * Runs the relay's delivery workers in Node worker threads (delivery-thread.ts), so intake and
 * delivery use separate cores while Herald stays one process.
 * Owns: the threads. `start` resolves once every thread runs its workers (and rejects, with every
 * thread ended, if one fails first). Events a thread forwards are handed to the main Herald's
 * in-process listeners with `events.dispatch`, once each (metrics, tests); the thread itself
 * already logged them and wrote them to the Redis stream. A thread that exits unexpectedly is
 * logged and replaced after RESTART_DELAY_MS, at most RESTART_LIMIT times per RESTART_WINDOW_MS
 * across all threads; beyond that it is not replaced and the failure is logged at `fatal`.
 * `stop` asks each thread to finish gracefully and terminates it after STOP_TIMEOUT_MS. `reload`
 * sends each running thread the new config and collects the version each answers (a thread that
 * does not answer within RELOAD_TIMEOUT_MS is reported as failed); a thread started later starts
 * on the new config.
 * Each thread's latest delivery snapshot (its `meter` message) is kept on a DeliverySnapshotBoard
 * (`snapshots`, for the main thread's /metrics); an ended thread's counters stay counted there.
 * Needs injected: the parsed config, the thread count, the main Herald's event sink and logger,
 * optionally a clock.
 */
import { Worker } from 'node:worker_threads';
import type { HeraldConfig, HeraldEvent } from '@herald/delivery-core';
import { DeliverySnapshotBoard } from '@herald/delivery-core/metrics';
import { settlesWithin } from '@herald/delivery-core/util';
import type { Logger } from 'pino';
import type { DeliveryThreadData, HostMessage, ThreadMessage } from './delivery-thread.js';
import type { ThreadLanes } from './fast-lanes.js';
import { DELIVERY_THREAD_YOUNG_GENERATION_MB } from './heap.js';
import type { ThreadReloadResult } from './reload.js';

/** Bound on a thread's start (createHerald waits up to 10 s for Redis). */
const START_TIMEOUT_MS = 30_000;
/** Bound on a thread's graceful stop: in-flight deliveries get 30 s, then the close steps. */
const STOP_TIMEOUT_MS = 35_000;
/** Pause before replacing a thread that exited unexpectedly. */
const RESTART_DELAY_MS = 1_000;
/** At most this many replacements per window, across all threads. */
const RESTART_LIMIT = 5;
const RESTART_WINDOW_MS = 60_000;
/** Bound on a thread's answer to a reload (it reads the shaping file and DKIM keys again). */
const RELOAD_TIMEOUT_MS = 10_000;

export interface DeliveryThreadsOptions {
  config: HeraldConfig;
  /** The relay's run (Herald.incarnation): its threads hold connection leases in its name. */
  incarnation: string;
  count: number;
  /** The main thread's event sink: forwarded events go to its `dispatch`. */
  events: { dispatch(event: HeraldEvent): void };
  logger: Logger;
  now?: () => number;
  /** The spool's fast lane into the threads (fast-lanes.ts), when the relay spools here too. */
  lanes?: ThreadLanes;
}

export interface DeliveryThreads {
  start(): Promise<void>;
  /** Graceful, bounded, idempotent. */
  stop(): Promise<void>;
  /** The new effective config to every thread; each thread's answer, in slot order. */
  reload(config: HeraldConfig): Promise<ThreadReloadResult[]>;
  /** The threads spawned and not exited yet (starting or running), for diagnostics and tests. */
  readonly workers: readonly Worker[];
  /** The threads' latest delivery snapshots (metrics' delivery source), ended threads' counts included. */
  snapshots(): ReturnType<DeliverySnapshotBoard['snapshots']>;
}

/** Counts restarts in a sliding window; `take` says whether one more is allowed now. */
export class RestartBudget {
  private readonly times: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  take(): boolean {
    const now = this.now();
    while (this.times.length > 0 && this.times[0]! <= now - this.windowMs) this.times.shift();
    if (this.times.length >= this.limit) return false;
    this.times.push(now);
    return true;
  }
}

interface Slot {
  index: number;
  worker?: Worker;
  restartTimer?: NodeJS.Timeout;
  /** The answer to the reload in flight, when one is. */
  onReloaded?: (answer: ThreadReloadResult) => void;
}

export function createDeliveryThreads(options: DeliveryThreadsOptions): DeliveryThreads {
  const { count, events, logger, incarnation } = options;
  let config = options.config;
  const budget = new RestartBudget(RESTART_LIMIT, RESTART_WINDOW_MS, options.now ?? Date.now);
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index }));
  const board = new DeliverySnapshotBoard();
  let stopping: Promise<void> | undefined;

  /** Starts the slot's thread; resolves when it is ready, rejects if it ends first. */
  const launch = (slot: Slot): Promise<void> => {
    const worker = spawnDeliveryThread({ config, incarnation });
    slot.worker = worker;
    const log = logger.child({ thread: slot.index, threadId: worker.threadId });
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let lastError: Error | undefined;
      const startTimer = setTimeout(() => {
        reject(new Error(`delivery thread ${slot.index} did not start within ${START_TIMEOUT_MS} ms`));
        void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on('message', (message: ThreadMessage) => {
        if (message.type === 'events') for (const event of message.events) events.dispatch(event);
        else if (message.type === 'reloaded')
          slot.onReloaded?.({ thread: slot.index, ok: message.ok, hash: message.hash, error: message.error });
        else if (message.type === 'room') options.lanes?.onRoom(slot.index, message.room, message.done);
        else if (message.type === 'meter') board.update(slot.index, message.snapshot);
        else if (message.type === 'ready') {
          ready = true;
          clearTimeout(startTimer);
          log.debug('delivery thread started');
          resolve();
        }
      });
      worker.on('error', (err) => {
        lastError = err;
        log.error({ err }, 'delivery thread failed');
      });
      options.lanes?.attach(slot.index, (message, transfer) => worker.postMessage(message, transfer));
      worker.on('exit', (code) => {
        clearTimeout(startTimer);
        options.lanes?.detach(slot.index);
        board.retire(slot.index);
        if (slot.worker === worker) slot.worker = undefined;
        if (!ready) {
          reject(
            lastError ?? new Error(`delivery thread ${slot.index} exited with code ${code} before starting`),
          );
          return;
        }
        if (stopping) return;
        log.error({ code }, 'delivery thread exited unexpectedly');
        scheduleRestart(slot);
      });
    });
  };

  const scheduleRestart = (slot: Slot) => {
    if (!budget.take()) {
      logger.fatal(
        { thread: slot.index, limit: RESTART_LIMIT, windowMs: RESTART_WINDOW_MS },
        'delivery thread keeps failing; not restarting it: this relay delivers with fewer threads until it is restarted',
      );
      return;
    }
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (stopping) return;
      launch(slot).then(
        () => logger.warn({ thread: slot.index }, 'delivery thread restarted'),
        // launch's handlers logged why; a thread that never started counts as another restart.
        () => (stopping ? undefined : scheduleRestart(slot)),
      );
    }, RESTART_DELAY_MS);
  };

  const stopSlot = async (slot: Slot) => {
    clearTimeout(slot.restartTimer);
    const worker = slot.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'stop' } satisfies HostMessage);
    if (!(await settlesWithin(exited, STOP_TIMEOUT_MS))) {
      logger.warn(
        { thread: slot.index, timeoutMs: STOP_TIMEOUT_MS },
        'delivery thread did not stop in time; terminating it',
      );
      await worker.terminate();
    }
  };

  const stop = () => (stopping ??= Promise.all(slots.map(stopSlot)).then(() => undefined));

  return {
    async start() {
      try {
        await Promise.all(slots.map(launch));
      } catch (err) {
        await stop();
        throw err;
      }
      logger.debug({ threads: count }, 'delivery threads started');
    },
    stop,
    async reload(next) {
      config = next;
      const ask = (slot: Slot) =>
        new Promise<ThreadReloadResult>((resolve) => {
          const worker = slot.worker;
          const timeout = { thread: slot.index, ok: false, hash: '', error: 'no answer in time' };
          if (!worker) return resolve({ ...timeout, error: 'not running' });
          const timer = setTimeout(() => resolve(timeout), RELOAD_TIMEOUT_MS);
          slot.onReloaded = (answer) => {
            clearTimeout(timer);
            slot.onReloaded = undefined;
            resolve(answer);
          };
          worker.postMessage({ type: 'reload', config: next } satisfies HostMessage);
        });
      return Promise.all(slots.map(ask));
    },
    get workers() {
      return slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    },
    snapshots: () => board.snapshots(),
  };
}

/**
 * A Worker running delivery-thread. From the built files that is delivery-thread.js; from the
 * sources (this module itself is .ts, run under `node --import tsx`) it is the .ts file, and the
 * thread registers tsx's loader first: on Node 20, tsx's `--import` hooks do not reach worker
 * threads. The thread inherits the parent's flags the way Node passes them on (V8 flags such as
 * `--max-old-space-size` or `--single-threaded-gc` are process-wide and left out: a Worker given
 * them in `execArgv` refuses to start). Its young generation is sized by `resourceLimits`
 * (heap.ts).
 */
function spawnDeliveryThread(workerData: DeliveryThreadData): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './delivery-thread.ts' : './delivery-thread.js', import.meta.url);
  const workerOptions = {
    workerData,
    name: 'herald-delivery',
    resourceLimits: { maxYoungGenerationSizeMb: DELIVERY_THREAD_YOUNG_GENERATION_MB },
  };
  if (!fromSource) return new Worker(entry, workerOptions);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...workerOptions, eval: true });
}
