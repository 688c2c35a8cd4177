/**
 * `herald queue stats [--config FILE] [--max-jobs N] [--json]`: the delivery queue per site —
 * ready, scheduled (retries, throttle waits), in flight, and the age of the oldest message —
 * with exact totals; the per-site split reads at most --max-jobs jobs and says when it stopped.
 */
import { createHerald } from '@herald/delivery-core';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const JSON_INDENT = 2;
const MS_PER_SECOND = 1_000;

export const statsHelp = `Usage: herald queue stats [--config FILE] [--max-jobs N] [--json]

Show the delivery queue per site: jobs ready to go, scheduled (retries and throttle waits),
in flight, and the age of the oldest message. Jobs not attempted yet are listed by
domain (domain:<name>) until a worker has rolled them up to their site.

  --config FILE   the relay's config (which Redis, which prefix); default: REDIS_URL
                  over the built-in defaults, else npm start's .herald/herald.yaml in
                  this checkout. The Redis read is named on stderr
  --max-jobs N    read at most N jobs for the per-site split (default 100000); the
                  totals are always exact
  --json          print the result as JSON`;

function age(ms: number): string {
  const s = Math.round(ms / MS_PER_SECOND);
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  return `${(s / 3_600).toFixed(1)}h`;
}

export async function runStats(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: extra } = parseCommandArgs(
    'queue stats',
    args,
    { config: { type: 'string', short: 'c' }, 'max-jobs': { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (extra.length > 0) throw usageError('queue stats', `unexpected argument "${extra[0]}"`);
  const maxJobs = values['max-jobs'] === undefined ? undefined : Number(values['max-jobs']);
  if (maxJobs !== undefined && (!Number.isSafeInteger(maxJobs) || maxJobs < 0)) {
    throw usageError('queue stats', `--max-jobs: expected a whole number, got "${values['max-jobs']}"`);
  }
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    const stats = await herald.queueStats(maxJobs === undefined ? {} : { maxJobs });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(stats, null, JSON_INDENT)}\n`);
      return EXIT_OK;
    }
    const rows = [
      ['site', 'ready', 'scheduled', 'in flight', 'oldest'],
      ...stats.sites.map((s) => [
        printableField(s.site),
        String(s.ready),
        String(s.scheduled),
        String(s.inFlight),
        age(s.oldestAgeMs),
      ]),
      [
        'total',
        String(stats.totals.ready),
        String(stats.totals.scheduled),
        String(stats.totals.inFlight),
        '',
      ],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const row of rows)
      io.stdout.write(
        `${row
          .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
          .join('  ')
          .trimEnd()}\n`,
      );
    if (stats.truncated)
      io.stdout.write(`(per-site split from the first ${stats.scanned} jobs; totals are exact)\n`);
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}
