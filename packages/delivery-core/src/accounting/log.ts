/**
 * The accounting log's runner: follows the event stream from its cursor
 * (`streamCursor(redis, prefix, 'accounting:<name>')`) with `tailEvents`, turns each entry into
 * records (records.ts), appends them to the day files, fsyncs, and only then saves the cursor.
 * Entries that arrive together are written as one batch (one write and one fsync per file). On
 * start and after any failure it recovers from the file tails (recovery.ts): no gap, no
 * duplicate. A failure (a full or read-only disk, Redis gone) is logged and retried with backoff
 * (RETRY_MIN_MS doubling to RETRY_MAX_MS); it never throws out of `run`, and the cursor never
 * passes what was fsynced. When trimming outran the cursor (`trimmedAfter`), the lost range is
 * logged as an error and counted; nothing is written for it. When Redis lost the file's last
 * entry (and the cursor), recovery keeps the file and resumes after it (see recovery.ts). Needs injected: its own Redis
 * connection (a blocking XREAD holds it), the cursor, a logger, optionally a metrics registry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AccountingRecordType } from '../config/index.js';
import {
  cursorEntriesKept,
  oldestCursor,
  type StreamCursor,
  type StreamEvent,
  tailEvents,
  trimmedAfter,
} from '../events/index.js';
import type { RedisClient } from '../redis/index.js';
import { utcDay } from './files.js';
import { type AccountingFormat, formatRecord } from './format.js';
import { RecordContext } from './records.js';
import { recover, type StreamProbe } from './recovery.js';
import { DayFiles } from './writer.js';

/** First wait after a failure; doubles up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Stream entries per batch at most (one write and fsync per file per batch). */
const BATCH_MAX_ENTRIES = 1_000;

export interface AccountingLogOptions {
  /** A connection of its own: the follow holds it in XREAD BLOCK. */
  redis: RedisClient;
  /**
   * The event stream, or the streams of every queue shard (read at each start of the follow, so
   * shards added meanwhile are read): merged by stream id, the cursor and each record's id a
   * merged cursor (events/merged.ts).
   */
  streamKey: string | (() => Promise<readonly string[]>);
  cursor: StreamCursor;
  directory: string;
  format: AccountingFormat;
  records: readonly AccountingRecordType[];
  logger: Logger;
  /** Where the herald_accounting_* metrics go (default: a registry of its own). */
  registry?: Registry;
  /** Longest single XREAD BLOCK (ms): how late a stop is noticed. Default tailEvents's 1 s. */
  blockMs?: number;
}

export interface AccountingLog {
  /** Follows the stream until `stop`; resolves once stopped. Never rejects. */
  start(): Promise<void>;
  /** Finishes the batch in hand, saves the cursor, closes the files. */
  stop(): Promise<void>;
}

/** Reports a gap: entries trimmed from the stream before the log read them. */
class GapReporter {
  constructor(
    private readonly redis: RedisClient,
    private readonly streamKeys: readonly string[],
    private readonly logger: Logger,
    private readonly gaps: Counter,
  ) {}

  /** Logs and counts when entries after `cursor` may have been trimmed before being read. */
  async check(cursor: string): Promise<void> {
    if (!(await trimmedAfter(this.redis, this.streamKeys, cursor))) return;
    const first = await oldestCursor(this.redis, this.streamKeys);
    this.gaps.inc();
    this.logger.error(
      { after: cursor, before: first },
      `accounting: stream entries after ${cursor} and before ${first ?? 'the head'} were trimmed before they were written (events.stream_max_len too small for the lag); they are missing from the accounting log`,
    );
  }
}

/** What recovery asks the stream: is an entry still there, and its oldest id. */
function streamProbe(redis: RedisClient, streamKeys: readonly string[]): StreamProbe {
  return {
    has: (id) => cursorEntriesKept(redis, streamKeys, id),
    oldest: () => oldestCursor(redis, streamKeys),
  };
}

/** A counter in `registry` (the one already there when a second log shares it), else unregistered. */
function counter(
  registry: Registry | undefined,
  name: string,
  help: string,
  labelNames: string[] = [],
): Counter {
  const known = registry?.getSingleMetric(name);
  if (known) return known as Counter;
  return new Counter({ name, help, labelNames, registers: registry ? [registry] : [] });
}

export function createAccountingLog(options: AccountingLogOptions): AccountingLog {
  const { redis, streamKey, cursor, logger } = options;
  const written = counter(
    options.registry,
    'herald_accounting_records_total',
    'Accounting records written (fsynced) by type',
    ['type'],
  );
  const gaps = counter(
    options.registry,
    'herald_accounting_gaps_total',
    'Times stream entries were skipped unwritten: trimmed past the accounting cursor, or a new stream with ids not later than the file',
  );
  const failures = counter(
    options.registry,
    'herald_accounting_failures_total',
    'Accounting write or read failures (each retried with backoff)',
  );
  const keep = new Set(options.records);
  const files = new DayFiles(options.directory, options.format);
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  /** A batch was committed since the last failure: the next failure waits RETRY_MIN_MS again. */
  let progressed = false;

  /** Writes one batch: records, fsync, then the cursor. */
  async function commit(context: RecordContext, batch: StreamEvent[]): Promise<void> {
    const runs: { day: string; text: string }[] = [];
    const counts = new Map<string, number>();
    for (const entry of batch) {
      let records: ReturnType<RecordContext['recordsOf']>;
      try {
        records = context.recordsOf(entry, keep);
      } catch (err) {
        logger.error(
          { err, id: entry.id },
          `accounting: stream entry ${entry.id} is not a readable event; skipped`,
        );
        continue;
      }
      if (records.length === 0) continue;
      const day = utcDay(entry.event.time);
      const text = records.map((r) => formatRecord(options.format, r)).join('');
      const last = runs[runs.length - 1];
      if (last?.day === day) last.text += text;
      else runs.push({ day, text });
      for (const r of records) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    }
    for (const run of runs) await files.append(run.day, run.text);
    await files.sync();
    await cursor.save(batch[batch.length - 1]!.id);
    for (const [type, n] of counts) written.inc({ type }, n);
    progressed = true;
  }

  /** One recovery and follow, until stopped (resolves) or a failure (rejects). */
  async function follow(): Promise<void> {
    await files.close();
    const streamKeys = typeof streamKey === 'string' ? [streamKey] : await streamKey();
    const gapReporter = new GapReporter(redis, streamKeys, logger, gaps);
    const { resumeAfter, cuts, kept, stale } = await recover(
      options.directory,
      options.format,
      await cursor.load(),
      streamProbe(redis, streamKeys),
    );
    for (const cut of cuts)
      logger.warn(
        cut,
        cut.reason === 'torn'
          ? `accounting: cut a torn last record (${cut.bytes} bytes) from ${cut.path}`
          : `accounting: cut ${cut.bytes} bytes written after the saved cursor from ${cut.path}; writing them again`,
      );
    if (kept)
      logger.warn(
        kept,
        `accounting: stream entry ${kept.id} (the last in ${kept.path}, ${kept.bytes} bytes, newer than the saved cursor ${kept.saved ?? '(none)'}) is no longer in the stream (RedisClient wiped, failed over, or restarted without its last writes); its records are kept as written, possibly only some of its recipients', and the log resumes after it`,
      );
    if (stale) {
      gaps.inc();
      logger.error(
        stale,
        `accounting: no saved cursor, and the stream's entries start at ${stale.oldest}, not later than the accounting file's last record ${stale.lastId}: this stream is not the one the file was written from (a clock behind?); its entries up to ${stale.lastId} are skipped, not written out of order`,
      );
    }
    // Without a cursor and with the file's last entry gone, Redis was wiped or replaced: recovery
    // judged that stream (stale); with a cursor, trimming past the file's last entry is a gap.
    if (!kept || kept.saved !== undefined) await gapReporter.check(resumeAfter);
    logger.info(
      { after: resumeAfter, directory: options.directory },
      'accounting log following the event stream',
    );
    const context = new RecordContext();
    const tail = new AbortController();
    // limit 0: straight to XREAD from the cursor, which notices the abort between entries.
    const entries = tailEvents(redis, streamKeys, {
      after: resumeAfter,
      limit: 0,
      follow: true,
      signal: AbortSignal.any([controller.signal, tail.signal]),
      ...(options.blockMs === undefined ? {} : { blockMs: options.blockMs }),
    })[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<StreamEvent>> | undefined;
    let before = resumeAfter;
    try {
      for (;;) {
        const first = await (pending ?? entries.next());
        pending = undefined;
        if (first.done) return;
        const batch = [first.value];
        // Take what is already at hand (the rest of a page); stop when the next needs a read.
        while (batch.length < BATCH_MAX_ENTRIES) {
          pending = entries.next();
          const next = await Promise.race([
            pending,
            new Promise<undefined>((r) => setImmediate(() => r(undefined))),
          ]);
          if (next === undefined) break;
          pending = undefined;
          if (next.done) break;
          batch.push(next.value);
        }
        // The first batch's cursor was checked above; later ones may fall behind the trimming.
        if (before !== resumeAfter) await gapReporter.check(before);
        await commit(context, batch);
        before = batch[batch.length - 1]!.id;
      }
    } finally {
      tail.abort();
      // Let a read in flight settle (within one blockMs) before the generator is dropped.
      if (pending) await pending.catch(() => undefined);
      await entries.return?.(undefined).catch(() => undefined);
    }
  }

  async function loop(): Promise<void> {
    let wait = RETRY_MIN_MS;
    while (!controller.signal.aborted) {
      try {
        await follow();
        wait = RETRY_MIN_MS;
      } catch (err) {
        if (progressed) wait = RETRY_MIN_MS;
        progressed = false;
        failures.inc();
        logger.error({ err }, `accounting: ${(err as Error).message}; retrying in ${wait} ms`);
        await sleep(wait, undefined, { signal: controller.signal }).catch(() => undefined);
        wait = Math.min(wait * 2, RETRY_MAX_MS);
      }
    }
    await files.close();
  }

  return {
    start() {
      running ??= loop();
      return running;
    },
    async stop() {
      controller.abort();
      await running;
    },
  };
}
