/**
 * `herald events tail [--follow] [--type T,...] [--tenant NAME] [--after ID] [--limit N] [--json]
 * [--config FILE]`: prints Herald's event stream (delivery-core's `tailEvents` does the reading):
 * the last N events oldest first, or those after a stream id; with --follow it goes on printing
 * new events until SIGINT/SIGTERM (or the io's abort signal) and exits 0. Each line starts with
 * the entry's stream id, the cursor for --after; --json prints one object per line with its `id`.
 * While following, a lost Redis is waited for: a note on stderr, reconnects with a backoff that
 * grows to RECONNECT_MAX_MS, and the tail resumes after the last id read (no gap, no repeat).
 * Without --follow a Redis failure is HERALD_REDIS_UNAVAILABLE.
 */

import type { RedisClient } from '@herald/delivery-core';
import {
  connectRedis,
  HeraldError,
  type RedisTarget,
  redisTarget,
  type SmtpReply,
} from '@herald/delivery-core';
import {
  cursorProblem,
  DEFAULT_TAIL_LIMIT,
  EVENT_TYPES,
  eventSubject,
  type HeraldEvent,
  isEventType,
  isStreamCursor,
  newestCursor,
  type StreamEvent,
  tailEvents,
} from '@herald/delivery-core/events';
import { readEventStreamKeys } from '@herald/delivery-core/queue';
import { parseCommandArgs, positiveInteger, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { tenantArg } from '../tenant-arg.js';
import { printableField } from '../terminal-text.js';

const MAX_LIMIT = 10_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const CONNECT_TIMEOUT_MS = 5_000;
/** First wait before reconnecting while following; doubles per failed try up to RECONNECT_MAX_MS. */
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5_000;

const help = `Usage: herald events tail [--follow] [--type T[,T...]] [--tenant NAME] [--after ID]
                         [--limit N] [--json] [--config FILE]

Print Herald's event stream (<prefix>:{queue}:events): the last N events, oldest first.
Each line starts with the event's stream id; pass it to --after to resume exactly there
(with queue.shards > 1: one id per shard joined by ',', the cursor just after the event).

  --follow, -f    keep printing new events as they arrive; Ctrl-C (SIGINT) or SIGTERM stops.
                  When Redis goes away it says so on stderr, reconnects by itself and
                  resumes after the last event printed
  --type T,...    only these event types (${EVENT_TYPES.join(', ')})
  --tenant NAME   only events of this tenant
  --after ID      start after this stream id instead of printing the last N
  --limit N       at most N events before following (default ${DEFAULT_TAIL_LIMIT})
  --json          one JSON object per line: the event with its stream "id"
  --config FILE   the relay's config (which Redis, which prefix); default: REDIS_URL over the
                  built-in defaults, else npm start's .herald/herald.yaml in this checkout.
                  The Redis read is named on stderr`;

function parseTypes(text: string | undefined): string[] {
  if (text === undefined) return [];
  const types = text.split(',').map((t) => t.trim());
  for (const type of types) {
    if (!isEventType(type))
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_INPUT_INVALID',
        `--type ${JSON.stringify(type)}: not an event type (${EVENT_TYPES.join(', ')})`,
      );
  }
  return types;
}

/** One line for a person: id, time, type, subject, then the event's telling fields. */
export function eventLine({ id, event }: StreamEvent): string {
  const parts = [id, new Date(event.time).toISOString(), event.type, eventSubject(event)];
  const e = event as HeraldEvent & Record<string, unknown>;
  if ('tenant' in event && event.tenant !== eventSubject(event)) parts.push(`tenant=${event.tenant}`);
  if (typeof e.recipient === 'string') parts.push(e.recipient);
  const reply = e.reply as Partial<SmtpReply> | undefined;
  if (reply?.code !== undefined)
    parts.push([reply.code, reply.enhanced, reply.text].filter((p) => p !== undefined && p !== '').join(' '));
  if (typeof e.reason === 'string') parts.push(`reason=${e.reason}`);
  return parts.map((p) => printableField(String(p))).join('  ');
}

/** A connection of its own (a blocking read holds it); HERALD_REDIS_UNAVAILABLE when unreachable. */
function connect(target: RedisTarget): Promise<RedisClient> {
  return connectRedis(target, {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS },
  });
}

/** Aborts when the io's signal does or, while following, on SIGINT/SIGTERM; returns the cleanup. */
function stopOn(io: CliIo, controller: AbortController, follow: boolean): () => void {
  const abort = (): void => controller.abort();
  io.signal?.addEventListener('abort', abort, { once: true });
  if (follow) for (const signal of STOP_SIGNALS) process.on(signal, abort);
  return () => {
    io.signal?.removeEventListener('abort', abort);
    for (const signal of STOP_SIGNALS) process.off(signal, abort);
  };
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'events',
    args,
    {
      follow: { type: 'boolean', short: 'f' },
      type: { type: 'string' },
      tenant: { type: 'string' },
      after: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
    },
    true,
  );
  const [sub, ...extra] = positionals;
  if (sub !== 'tail')
    throw usageError(
      'events',
      sub === undefined ? 'missing subcommand (tail)' : `unknown subcommand "${sub}"`,
    );
  if (extra.length > 0) throw usageError('events tail', `unexpected argument "${extra[0]}"`);
  const limit =
    values.limit === undefined
      ? DEFAULT_TAIL_LIMIT
      : positiveInteger('events tail', 'limit', values.limit, MAX_LIMIT);
  if (values.after !== undefined && !isStreamCursor(values.after))
    throw usageError(
      'events tail',
      `--after must be a stream id like 1700000000000-0, got ${JSON.stringify(values.after)}`,
    );
  const types = parseTypes(values.type);
  const tenant = values.tenant === undefined ? undefined : tenantArg(values.tenant);
  const follow = values.follow === true;

  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const controller = new AbortController();
  const cleanup = stopOn(io, controller, follow);
  const print = (entry: StreamEvent): void => {
    io.stdout.write(
      values.json ? `${JSON.stringify({ id: entry.id, ...entry.event })}\n` : `${eventLine(entry)}\n`,
    );
  };
  const filter = { types, ...(tenant === undefined ? {} : { tenant }) };
  let redis = await connect(redisTarget(config.redis));
  try {
    // Every queue shard's stream (queue.shards), read as one; ids are then merged cursors.
    const streamKey = await readEventStreamKeys(redis, config.redis.prefix).catch((err: unknown) =>
      Promise.reject(redisFailure(err)),
    );
    // A cursor Redis could not read after (a part over 2^64-1, more ids than shards): usage.
    const cursorIssue =
      values.after === undefined ? undefined : cursorProblem(values.after, streamKey.length);
    if (cursorIssue) throw usageError('events tail', `--after: ${cursorIssue}`);
    // Where a resumed tail starts: the last id printed, else where the first read started.
    let resumeAfter =
      values.after ??
      (follow
        ? await newestCursor(redis, streamKey).catch((err: unknown) => Promise.reject(redisFailure(err)))
        : undefined);
    let first = true;
    let waitMs = RECONNECT_FIRST_MS;
    while (!controller.signal.aborted) {
      try {
        if (!first) {
          redis.disconnect();
          redis = await connect(redisTarget(config.redis));
          io.stderr.write(`Redis back, resuming after ${resumeAfter}\n`);
          waitMs = RECONNECT_FIRST_MS;
        }
        const entries = tailEvents(redis, streamKey, {
          ...filter,
          limit: first ? limit : MAX_LIMIT,
          follow,
          signal: controller.signal,
          ...(first && values.after === undefined ? {} : { after: resumeAfter! }),
        });
        first = false;
        for await (const entry of entries) {
          print(entry);
          resumeAfter = entry.id;
        }
        return EXIT_OK;
      } catch (err) {
        first = false;
        if (controller.signal.aborted) return EXIT_OK;
        if (!follow) throw redisFailure(err);
        io.stderr.write(`Redis unavailable, retrying… (${printableField(reason(err))})\n`);
        await sleep(waitMs, controller.signal);
        waitMs = Math.min(waitMs * 2, RECONNECT_MAX_MS);
      }
    }
    return EXIT_OK;
  } finally {
    cleanup();
    redis.disconnect();
  }
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A Redis error as HERALD_REDIS_UNAVAILABLE (a HeraldError or CliExit passes unchanged). */
function redisFailure(err: unknown): unknown {
  if (err instanceof HeraldError || err instanceof CliExit) return err;
  return new CliExit(
    EXIT_FAILURE,
    'HERALD_REDIS_UNAVAILABLE',
    `reading the event stream failed: ${reason(err)}`,
  );
}

/** The stream's newest id, or "0" when it is empty. */
/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export const eventsCommand: Command = {
  name: 'events',
  synopsis: 'tail [--follow] [--type T,...] [--tenant NAME] [--after ID] [--json]',
  summary: "print Herald's event stream, or follow it",
  help,
  run,
};
