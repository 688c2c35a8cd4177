/**
 * `herald queue list SITE [--limit N] [--after CURSOR] [--json]` (Postfix's `postqueue -p` for one
 * site): the site's queued jobs a page at a time in acceptance order, each with its state (ready,
 * scheduled and when, in flight, parked and why), attempts, sender, pending recipients and last
 * error; the last line names the cursor of the next page. Anything that came from the network
 * (addresses, replies) is printed through printableField.
 */
import { createHerald, type QueuedJob } from '@herald/delivery-core';
import { parseCommandArgs, positiveInteger, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { checkQueueSite } from '../queue-site.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const JSON_INDENT = 2;
const MAX_LIMIT = 1_000;

function stateText(job: QueuedJob): string {
  const at = job.nextAttemptAt === undefined ? '' : ` until ${new Date(job.nextAttemptAt).toISOString()}`;
  if (job.state === 'parked') return `parked (${job.parked})${at}`;
  if (job.state === 'scheduled') return `scheduled (${job.waitingFor})${at}`;
  return job.state;
}

function jobLines(job: QueuedJob): string[] {
  const lines = [
    `${job.jobId}  ${stateText(job)}  attempts ${job.attempts}  accepted ${new Date(job.acceptedAt).toISOString()}`,
    `  tenant ${printableField(job.tenant)}  from <${printableField(job.from)}>  site ${printableField(job.site ?? `domain:${job.domain}`)}`,
    `  to ${job.pending.map(printableField).join(', ')}`,
  ];
  if (job.reason) lines.push(`  waiting: ${printableField(job.reason)}`);
  if (job.lastError) lines.push(`  last error: ${printableField(job.lastError)}`);
  return lines;
}

/** A word a POSIX shell reads back as itself: bare when safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command that lists the next page: the same site, --config and --limit the user gave. */
export function nextPageCommand(site: string, next: string, config?: string, limit?: string): string {
  const words = ['herald', 'queue', 'list', site];
  if (config !== undefined) words.push('--config', config);
  if (limit !== undefined) words.push('--limit', limit);
  words.push('--after', next);
  return printableField(words.map(shellWord).join(' '));
}

export async function runList(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'queue list',
    args,
    {
      config: { type: 'string', short: 'c' },
      limit: { type: 'string' },
      after: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  const [site, ...extra] = positionals;
  if (!site)
    throw usageError(
      'queue list',
      'missing SITE (provider:<name>, mx:<hosts>, route:<host>:<port> or domain:<name>)',
    );
  if (extra.length > 0) throw usageError('queue list', `unexpected argument "${extra[0]}"`);
  const limit =
    values.limit === undefined ? undefined : positiveInteger('queue list', 'limit', values.limit, MAX_LIMIT);
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  checkQueueSite(site, config);
  const herald = await createHerald(config);
  try {
    const page = await herald.listQueue(site, {
      ...(limit === undefined ? {} : { limit }),
      ...(values.after === undefined ? {} : { after: values.after }),
    });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(page, null, JSON_INDENT)}\n`);
      return EXIT_OK;
    }
    for (const job of page.jobs) io.stdout.write(`${jobLines(job).join('\n')}\n`);
    if (page.jobs.length === 0)
      io.stdout.write(`${printableField(site)}: no queued jobs${values.after ? ' after this cursor' : ''}\n`);
    if (page.next)
      io.stdout.write(`more: ${nextPageCommand(site, page.next, values.config, values.limit)}\n`);
    if (page.truncated) io.stdout.write(`(read from the first ${page.scanned} jobs of the queue)\n`);
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}
