/**
 * `herald accounting run --config FILE`: runs the accounting log (delivery-core's `accounting`) in
 * this process until SIGINT/SIGTERM (or the io's abort signal), for an operator who keeps it apart
 * from the relays; it logs JSON lines on stdout and exits 0 after finishing its batch and saving
 * its cursor. `herald accounting status --config FILE [--json]`: the consumer's cursor, the
 * stream's head and oldest entry, the lag (entries and time) and whether trimming outran it.
 */

import type { RedisClient } from '@herald/delivery-core';
import { connectRedis, type HeraldConfig, type RedisTarget, redisTarget } from '@herald/delivery-core';
import {
  type AccountingStatus,
  accountingConsumer,
  accountingFromConfig,
  accountingStatus,
} from '@herald/delivery-core/accounting';
import { readEventStreamKeys } from '@herald/delivery-core/queue';
import { pino } from 'pino';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const CONNECT_TIMEOUT_MS = 5_000;

const help = `Usage: herald accounting run --config FILE
       herald accounting status --config FILE [--json]

The accounting log: every delivery attempt and recipient outcome as a CSV or JSON-lines record
in <accounting.directory>/herald-acct-YYYY-MM-DD.<csv|jsonl>, one file per UTC day, written from
the event stream from a cursor kept in Redis (<prefix>:cursor:accounting:<name>).

  run      follow the event stream and write the log in this process until Ctrl-C (SIGINT) or
           SIGTERM, then finish the batch in hand, save the cursor and exit 0. A relay with the
           worker role runs it already when its config has an accounting section: give this
           process a config of its own (or another accounting.name), not both the same name.
  status   print the cursor, the stream's head, how far behind the log is, and whether the
           stream was trimmed past the cursor (records missing)

  --config FILE   the config with the accounting section (which Redis, which prefix, where)
  --json          status as one JSON object`;

function connect(target: RedisTarget): Promise<RedisClient> {
  return connectRedis(target, {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { connectTimeout: CONNECT_TIMEOUT_MS },
  });
}

function requireAccounting(config: HeraldConfig): NonNullable<HeraldConfig['accounting']> {
  if (!config.accounting)
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_CONFIG_INVALID',
      'accounting: the config has no accounting section (add accounting.directory)',
    );
  return config.accounting;
}

async function runLog(config: HeraldConfig, io: CliIo): Promise<number> {
  requireAccounting(config);
  const redis = await connect(redisTarget(config.redis));
  const logger = pino({ level: 'info', base: { svc: 'herald-accounting' } }, io.stdout);
  const log = accountingFromConfig(config, { redis, logger })!;
  const stop = (): void => void log.stop();
  io.signal?.addEventListener('abort', stop, { once: true });
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  try {
    await log.start();
    return EXIT_OK;
  } finally {
    io.signal?.removeEventListener('abort', stop);
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
    redis.disconnect();
  }
}

export function statusLines(status: AccountingStatus, directory: string): string[] {
  const lag = `${status.lagCapped ? 'at least ' : ''}${status.lagEntries} entries, ${(status.lagMs / 1000).toFixed(1)} s`;
  return [
    `consumer   ${status.consumer}`,
    `directory  ${directory}`,
    `cursor     ${status.cursor ?? '(none yet: starts at the oldest entry)'}`,
    `head       ${status.head ?? '(empty stream)'}`,
    `oldest     ${status.oldest ?? '(empty stream)'}`,
    `lag        ${lag}`,
    `gap        ${status.gap ? 'YES: entries after the cursor were trimmed before being written' : 'no'}`,
  ].map((line) => printableField(line));
}

async function showStatus(config: HeraldConfig, io: CliIo, json: boolean): Promise<number> {
  const section = requireAccounting(config);
  const redis = await connect(redisTarget(config.redis));
  try {
    const status = await accountingStatus(
      redis,
      config.redis.prefix,
      await readEventStreamKeys(redis, config.redis.prefix),
      accountingConsumer(config),
    );
    io.stdout.write(
      json
        ? `${JSON.stringify({ ...status, directory: section.directory })}\n`
        : `${statusLines(status, section.directory).join('\n')}\n`,
    );
    return status.gap ? EXIT_FAILURE : EXIT_OK;
  } finally {
    redis.disconnect();
  }
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'accounting',
    args,
    { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
    true,
  );
  const [sub, ...extra] = positionals;
  if (sub !== 'run' && sub !== 'status')
    throw usageError(
      'accounting',
      sub === undefined ? 'missing subcommand (run, status)' : `unknown subcommand "${sub}"`,
    );
  if (extra.length > 0) throw usageError(`accounting ${sub}`, `unexpected argument "${extra[0]}"`);
  if (sub === 'run' && values.json) throw usageError('accounting run', '--json is for status');
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  return sub === 'run' ? runLog(config, io) : showStatus(config, io, values.json === true);
}

export const accountingCommand: Command = {
  name: 'accounting',
  synopsis: 'run|status --config FILE [--json]',
  summary: 'write the accounting log (CSV / JSON lines per day) or show its lag',
  help,
  run,
};
