/**
 * `herald tlsrpt send [--config FILE] [--day YYYY-MM-DD] [--dry-run] [--json]`: sends the SMTP TLS
 * Reports (RFC 8460) of one UTC day now — what a relay's daily job does after `send_at` — and
 * prints one line per policy domain (sent, failed, already sent, no record). Mailed reports are
 * queued through Herald's send() and delivered by the relays. Exit 0 unless a report failed.
 */
import { createHerald } from '@herald/delivery-core';
import type { DomainReport } from '@herald/delivery-core/tlsrpt';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const JSON_INDENT = 2;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const help = `Usage: herald tlsrpt send [--config FILE] [--day YYYY-MM-DD] [--dry-run] [--json]

SMTP TLS Reporting (RFC 8460): send each recipient domain's aggregate TLS report for one UTC
day to the rua of its _smtp._tls TXT record (https: POST application/tlsrpt+gzip; mailto: a
multipart/report message queued through Herald). A report goes out once per domain and day:
one already sent (by a relay's daily job or an earlier run) is skipped. Needs
tls_reporting.enabled in the config.

  --config FILE   the relay's config (which Redis, the tls_reporting section)
  --day DAY       the UTC day to report (default: yesterday); today's counts so far also work
  --dry-run       look up the records and print the reports; send nothing, mark nothing
  --json          print the results as JSON`;

function line(r: DomainReport): string {
  const failed = r.deliveries.filter((d) => !d.ok).map((d) => `${d.uri}: ${d.error}`);
  const detail = r.problem ?? (failed.length > 0 ? failed.join('; ') : r.rua.join(', '));
  return `${printableField(r.domain)}  ${r.status}${detail ? `  ${printableField(detail)}` : ''}\n`;
}

async function runSend(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'tlsrpt send',
    args,
    {
      config: { type: 'string', short: 'c' },
      day: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length > 0) throw usageError('tlsrpt send', `unexpected argument "${positionals[0]}"`);
  if (values.day !== undefined && !DAY.test(values.day))
    throw usageError('tlsrpt send', `--day: expected YYYY-MM-DD, got "${values.day}"`);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  if (!config.tls_reporting.enabled)
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_CONFIG_INVALID',
      'tls_reporting.enabled is not true in the config',
    );
  const herald = await createHerald(config);
  try {
    const results = await herald.tlsReporting!.sendDay({
      ...(values.day ? { day: values.day } : {}),
      dryRun: values['dry-run'] ?? false,
    });
    if (values.json) io.stdout.write(`${JSON.stringify(results, null, JSON_INDENT)}\n`);
    else if (results.length === 0) io.stdout.write('no TLS outcomes counted for that day\n');
    else for (const r of results) io.stdout.write(line(r));
    return results.some((r) => r.status === 'failed') ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await herald.close();
  }
}

export const tlsrptCommand: Command = {
  name: 'tlsrpt',
  synopsis: 'send [--day YYYY-MM-DD] [--dry-run]',
  summary: 'send the SMTP TLS reports (RFC 8460) of a day',
  help,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === 'send') return runSend(rest, io);
    throw usageError(
      'tlsrpt',
      sub === undefined ? 'expected a subcommand: send' : `unknown subcommand "${sub}"`,
    );
  },
};
