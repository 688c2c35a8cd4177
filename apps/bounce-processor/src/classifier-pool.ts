/**
 * Classifies received messages off the event loop, in a small pool of worker threads
 * (classifier-thread.ts), one message per thread at a time, first come first served.
 * Guarantees: each message has a time budget (CLASSIFY_BUDGET_MS) from the moment a thread takes
 * it; past it the thread is terminated and replaced, and the message resolves as unread
 * (`outcome: 'timed-out'`, an `undefined` report). A thread that fails or exits while reading
 * gives `outcome: 'failed'` likewise. So a hostile message costs at most its budget on one thread
 * and the listener keeps answering. A thread that exits before it is ready is replaced at most
 * START_FAILURES_LIMIT times per START_FAILURES_WINDOW_MS (a broken install, not hostile input);
 * with no thread left `classify` rejects, and the caller answers 451 so the sender retries.
 * `start` resolves once every thread is loaded; `stop` terminates them and rejects queued work.
 * Loads from dist (.js) and from the sources under tsx (.ts), as the relay's delivery threads do.
 * Needs injected: a logger; optionally the thread count, the budget and the thread's entry.
 */
import { Worker } from 'node:worker_threads';
import { MAX_MESSAGE_BYTES } from '@herald/delivery-core/bounce';
import type { Logger } from 'pino';
import type {
  ClassifierMessage,
  ClassifierThreadData,
  ClassifyRequest,
  RulesText,
} from './classifier-thread.js';
import { type ReadReport, unreadReport } from './report.js';

/** Classifier threads per bounce-processor. */
export const CLASSIFIER_THREADS = 2;
/** Time one message may take in a thread; the linear classifier needs well under 1 s for 1 MiB. */
export const CLASSIFY_BUDGET_MS = 5_000;
/** Heap of one classifier thread: a runaway allocation ends the thread, not the process. */
const THREAD_HEAP_MB = 256;
/** Bound on a thread's start (loading the classifier). */
const START_TIMEOUT_MS = 30_000;
/** Threads that exit before they are ready: at most this many replacements per window. */
const START_FAILURES_LIMIT = 5;
const START_FAILURES_WINDOW_MS = 60_000;

export type ReadOutcome = 'read' | 'timed-out' | 'failed';

export interface ClassifiedMessage extends ReadReport {
  outcome: ReadOutcome;
}

export interface ClassifierPoolOptions {
  logger: Logger;
  threads?: number;
  budgetMs?: number;
  /** The thread's module (tests use a stand-in); default classifier-thread.js or .ts. */
  entry?: URL;
  /** Operator rules (the text of `bounce.rules_file`), parsed by each thread at start. */
  rules?: RulesText;
}

export interface ClassifierPool {
  readonly budgetMs: number;
  start(): Promise<void>;
  /** Reads one message; rejects only when no thread can run (or the pool is stopped). */
  classify(raw: Uint8Array): Promise<ClassifiedMessage>;
  /** Terminates the threads; queued and running messages are rejected. Idempotent. */
  stop(): Promise<void>;
  /** Thread ids of the running threads (diagnostics and tests). */
  readonly threadIds: readonly number[];
}

interface Job {
  id: number;
  bytes: Uint8Array<ArrayBuffer>;
  resolve(result: ClassifiedMessage): void;
  reject(err: Error): void;
}

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
}

const DEFAULT_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './classifier-thread.ts' : './classifier-thread.js',
  import.meta.url,
);

export function createClassifierPool(options: ClassifierPoolOptions): ClassifierPool {
  const { logger } = options;
  const budgetMs = options.budgetMs ?? CLASSIFY_BUDGET_MS;
  const entry = options.entry ?? DEFAULT_ENTRY;
  const slots: Slot[] = Array.from({ length: options.threads ?? CLASSIFIER_THREADS }, (_, index) => ({
    index,
    ready: false,
  }));
  const queue: Job[] = [];
  const startFailures: number[] = [];
  let nextId = 1;
  let stopped = false;

  const unread = (outcome: ReadOutcome): ClassifiedMessage => ({ ...unreadReport(), outcome });

  const finish = (slot: Slot, result: ClassifiedMessage | Error): void => {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    if (!job) return;
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  };

  const dispatch = (): void => {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.worker || !slot.ready || slot.job) continue;
      const job = queue.shift()!;
      const worker = slot.worker;
      slot.job = job;
      slot.timer = setTimeout(() => {
        logger.warn(
          { thread: slot.index, budgetMs },
          'bounce classifier over its time budget; thread replaced',
        );
        finish(slot, unread('timed-out'));
        replace(slot, worker);
      }, budgetMs);
      worker.postMessage({ id: job.id, bytes: job.bytes } satisfies ClassifyRequest, [job.bytes.buffer]);
    }
  };

  /** Gives up queued work when no thread runs or starts any more. */
  const failIfNoThreads = (): void => {
    if (slots.some((slot) => slot.worker)) return;
    for (const job of queue.splice(0)) job.reject(new Error('no bounce classifier thread is running'));
  };

  const replace = (slot: Slot, worker: Worker): void => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    void worker.terminate();
    if (!stopped) launch(slot).catch(() => undefined);
  };

  /** Starts the slot's thread; resolves when it is ready, rejects if it ends or stalls first. */
  const launch = (slot: Slot): Promise<void> => {
    const worker = spawnClassifierThread(entry, options.rules);
    slot.worker = worker;
    slot.ready = false;
    return new Promise<void>((resolve, reject) => {
      const startTimer = setTimeout(() => {
        reject(
          new Error(`bounce classifier thread ${slot.index} did not start within ${START_TIMEOUT_MS} ms`),
        );
        void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on('message', (message: ClassifierMessage) => {
        if (slot.worker !== worker) return;
        if (message.type === 'ready') {
          clearTimeout(startTimer);
          slot.ready = true;
          resolve();
        } else if (slot.job?.id === message.id) {
          finish(slot, message.type === 'read' ? { ...message.read, outcome: 'read' } : unread('failed'));
          if (message.type === 'error') logger.error({ err: message.message }, 'bounce classifier failed');
        }
        dispatch();
      });
      worker.on('error', (err) =>
        logger.error({ err, thread: slot.index }, 'bounce classifier thread failed'),
      );
      worker.on('exit', (code) => {
        clearTimeout(startTimer);
        if (slot.worker !== worker) return;
        const wasReady = slot.ready;
        slot.worker = undefined;
        slot.ready = false;
        finish(slot, unread('failed'));
        reject(new Error(`bounce classifier thread ${slot.index} exited with code ${code}`));
        if (stopped) return;
        logger.error({ code, thread: slot.index }, 'bounce classifier thread exited; replacing it');
        if (wasReady || allowStartFailure()) launch(slot).catch(() => undefined);
        else {
          logger.fatal({ thread: slot.index }, 'bounce classifier threads keep failing to start');
          failIfNoThreads();
        }
      });
    });
  };

  const allowStartFailure = (): boolean => {
    const now = Date.now();
    while (startFailures.length > 0 && startFailures[0]! <= now - START_FAILURES_WINDOW_MS)
      startFailures.shift();
    if (startFailures.length >= START_FAILURES_LIMIT) return false;
    startFailures.push(now);
    return true;
  };

  return {
    budgetMs,
    async start() {
      try {
        await Promise.all(slots.map(launch));
      } catch (err) {
        await this.stop();
        throw err;
      }
    },
    classify(raw) {
      if (stopped) return Promise.reject(new Error('the bounce classifier is stopped'));
      if (!slots.some((slot) => slot.worker))
        return Promise.reject(new Error('no bounce classifier thread is running'));
      // A copy of what the classifier reads, so its buffer can be moved to the thread.
      const bytes = new Uint8Array(Math.min(raw.byteLength, MAX_MESSAGE_BYTES));
      bytes.set(raw.subarray(0, bytes.byteLength));
      return new Promise<ClassifiedMessage>((resolve, reject) => {
        queue.push({ id: nextId++, bytes, resolve, reject });
        dispatch();
      });
    },
    async stop() {
      stopped = true;
      const error = new Error('the bounce classifier is stopping');
      for (const job of queue.splice(0)) job.reject(error);
      await Promise.all(
        slots.map(async (slot) => {
          finish(slot, error);
          const worker = slot.worker;
          slot.worker = undefined;
          if (worker) await worker.terminate();
        }),
      );
    },
    get threadIds() {
      return slots.flatMap((slot) => (slot.worker ? [slot.worker.threadId] : []));
    },
  };
}

/**
 * A Worker running `entry`. A .js entry (the built files) starts as is; a .ts entry (the sources,
 * run under `node --import tsx`) registers tsx's loader first: on Node 20, tsx's `--import` hooks
 * do not reach worker threads. The thread inherits the parent's flags (`--conditions=herald-source`)
 * the way Node passes them on: V8 flags such as `--max-semi-space-size` (which `npm start` gives
 * every Herald process) are process-wide and left out, whereas naming them in `execArgv` makes the
 * Worker refuse to start.
 */
function spawnClassifierThread(entry: URL, rules: RulesText | undefined): Worker {
  const options = {
    workerData: { rules } satisfies ClassifierThreadData,
    name: 'herald-bounce-classifier',
    resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
  };
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
