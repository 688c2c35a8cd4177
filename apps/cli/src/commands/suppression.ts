/**
 * `herald suppression list|add|remove|import|export --tenant T [--config FILE]`: a tenant's
 * suppression list in the shared Redis. `add` is an operator's entry (source manual; it replaces a
 * shorter or longer one); `import` merges a CSV file (`-` for stdin) and reports bad lines by
 * number; `export` writes CSV (`address,reason,source,at,expires_at`) to a file or stdout.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { createHerald, parseHoldDuration } from '@herald/delivery-core';
import {
  DEFAULT_MANUAL_REASON,
  type SuppressionEntry,
  type SuppressionList,
} from '@herald/delivery-core/suppression';
import { parseCommandArgs, positiveInteger, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { tenantArg } from '../tenant-arg.js';
import { printableField } from '../terminal-text.js';

const ACTIONS = ['list', 'add', 'remove', 'import', 'export'] as const;
type Action = (typeof ACTIONS)[number];
const STDIO = '-';
const MAX_LIST_LIMIT = 10_000_000;

const help = `Usage: herald suppression list --tenant T [--limit N] [--json] [--config FILE]
       herald suppression add ADDRESS... --tenant T [--reason WORD] [--expires DURATION] [--config FILE]
       herald suppression remove ADDRESS... --tenant T [--config FILE]
       herald suppression import FILE|- --tenant T [--config FILE]
       herald suppression export [FILE|-] --tenant T [--config FILE]

list    the tenant's suppressed addresses (expired soft entries left out): address, reason,
        source, since, until; --json prints one JSON object a line
add     suppress addresses by hand (source manual, reason default "manual"); --expires 7d
        lifts it by itself, otherwise it stays until removed; replaces an existing entry
remove  take addresses off the list
import  read CSV with the header row address,reason,source,at,expires_at (only address
        is required; times ISO 8601; expires_at "never" or empty for the reason's default);
        an address already suppressed for longer is kept; bad lines are reported, the
        rest imported (exit 1 when any line was bad)
export  write the list as CSV to FILE (default stdout)

--tenant names the list (mail without a tenant is "default"); --config (default: REDIS_URL
over the built-in defaults, else npm start's .herald/herald.yaml in this checkout) says which
Redis; the Redis read is named on stderr.`;

function iso(ms: number | undefined): string {
  return ms === undefined ? 'never' : new Date(ms).toISOString();
}

function line(entry: SuppressionEntry): string {
  const fields = [entry.address, entry.reason, entry.source].map(printableField);
  return `${fields.join('\t')}\t${iso(entry.at)}\t${iso(entry.expiresAt)}\n`;
}

async function list(suppression: SuppressionList, tenant: string, limit: number, json: boolean, io: CliIo) {
  let shown = 0;
  for await (const entry of suppression.entries(tenant)) {
    if (shown >= limit) break;
    io.stdout.write(json ? `${JSON.stringify(entry)}\n` : line(entry));
    shown++;
  }
  const total = await suppression.count(tenant);
  if (!json) io.stderr.write(`${tenant}: ${total} suppressed${shown < total ? ` (${shown} shown)` : ''}\n`);
  return EXIT_OK;
}

async function importFile(suppression: SuppressionList, tenant: string, file: string, io: CliIo) {
  const input = file === STDIO ? io.stdin : createReadStream(file);
  const result = await suppression.importCsv(tenant, input);
  for (const problem of result.problems)
    printError(io, 'HERALD_INPUT_INVALID', `${file}: line ${problem.line}: ${problem.message}`);
  io.stdout.write(
    `${tenant}: imported ${result.written} of ${result.rows} rows` +
      ` (${result.kept} already suppressed for longer, ${result.expired} expired, ${result.problems.length} bad)\n`,
  );
  return result.problems.length > 0 ? EXIT_FAILURE : EXIT_OK;
}

async function exportFile(suppression: SuppressionList, tenant: string, file: string, io: CliIo) {
  if (file === STDIO) {
    await suppression.exportCsv(tenant, io.stdout);
    return EXIT_OK;
  }
  const out = createWriteStream(file);
  const rows = await suppression.exportCsv(tenant, out);
  out.end();
  await finished(out);
  io.stderr.write(`${tenant}: ${rows} entries written to ${file}\n`);
  return EXIT_OK;
}

function expiry(text: string | undefined): number | null {
  if (text === undefined || text === 'never') return null;
  try {
    return Date.now() + parseHoldDuration(text);
  } catch {
    throw usageError(
      'suppression add',
      `--expires: expected a duration like 7d (at most 36500d) or "never", got "${text}"`,
    );
  }
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'suppression',
    args,
    {
      tenant: { type: 'string', short: 't' },
      config: { type: 'string', short: 'c' },
      reason: { type: 'string' },
      expires: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  const [action, ...operands] = positionals;
  if (!ACTIONS.includes(action as Action))
    throw usageError(
      'suppression',
      action === undefined ? `missing action (${ACTIONS.join(', ')})` : `unknown action "${action}"`,
    );
  const command = `suppression ${action}`;
  if (!values.tenant) throw usageError(command, 'missing --tenant');
  const tenant = tenantArg(values.tenant);
  if ((action === 'add' || action === 'remove') && operands.length === 0)
    throw usageError(command, 'missing ADDRESS');
  if (action === 'import' && operands.length !== 1)
    throw usageError(command, 'expected one FILE (or - for stdin)');
  if ((action === 'list' && operands.length > 0) || (action === 'export' && operands.length > 1))
    throw usageError(command, `unexpected argument "${operands.at(-1)}"`);
  const limit =
    values.limit === undefined
      ? MAX_LIST_LIMIT
      : positiveInteger(command, 'limit', values.limit, MAX_LIST_LIMIT);
  const expiresAt = action === 'add' ? expiry(values.expires) : null;
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  const suppression = herald.suppression;
  try {
    switch (action as Action) {
      case 'list':
        return await list(suppression, tenant, limit, values.json ?? false, io);
      case 'import':
        return await importFile(suppression, tenant, operands[0]!, io);
      case 'export':
        return await exportFile(suppression, tenant, operands[0] ?? STDIO, io);
      case 'add': {
        const inputs = operands.map((address) => ({
          address,
          reason: values.reason ?? DEFAULT_MANUAL_REASON,
          source: 'manual' as const,
          expiresAt,
        }));
        const result = await suppression.addMany(tenant, inputs, { replace: true });
        for (const bad of result.invalid) printError(io, 'HERALD_INPUT_INVALID', bad.problem);
        io.stdout.write(`${tenant}: ${result.written} suppressed until ${iso(expiresAt ?? undefined)}\n`);
        return result.invalid.length > 0 ? EXIT_FAILURE : EXIT_OK;
      }
      case 'remove': {
        for (const address of operands) {
          const removed = await suppression.remove(tenant, address);
          io.stdout.write(`${printableField(address)}: ${removed ? 'removed' : 'was not suppressed'}\n`);
        }
        return EXIT_OK;
      }
    }
  } finally {
    await herald.close();
  }
}

export const suppressionCommand: Command = {
  name: 'suppression',
  synopsis: 'list|add|remove|import|export --tenant T',
  summary: "manage a tenant's suppression list (CSV import/export)",
  help,
  run,
};
