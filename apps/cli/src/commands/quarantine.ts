/**
 * `herald quarantine list|show|release|delete`: messages the content scan held (delivery-core's
 * `herald.quarantine`, the same data as the HTTP API's `/v1/quarantine`). `list` prints one line
 * per held message (oldest first), `show ID` its envelope, score, rules and header block (`--raw`:
 * the whole message), `release ID` queues it as if just accepted, `delete ID` ends each recipient
 * bounced (operator delete). An id not held exits 1 with HERALD_QUARANTINE_NOT_FOUND. Everything
 * that came from a client (addresses, headers) is printed through `printableField`.
 */
import { createHerald, type Herald } from '@herald/delivery-core';
import type { HeldSummary } from '@herald/delivery-core/quarantine';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';

const JSON_INDENT = 2;
const SUBCOMMANDS = ['list', 'show', 'release', 'delete'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const help = `Usage: herald quarantine list [--tenant NAME] [--limit N] [--json] [--config FILE]
       herald quarantine show ID [--raw] [--json] [--config FILE]
       herald quarantine release ID [--config FILE]
       herald quarantine delete ID [--config FILE]

Messages the content scan (config scanning) held instead of queuing them.
  list      held messages, oldest first: id, time held, tenant, reason (score or account), sender, recipients
  show      one held message: envelope, reason, score, the rspamd rules that fired, its headers
  release   queue it as if just accepted (DKIM signed now); a 'released' event
  delete    delete it: each recipient ends bounced (operator delete), no DSN

  --tenant NAME   list: only this tenant's
  --limit N       list: at most N (default 100, at most 1000)
  --raw           show: print the whole message as held
  --json          print JSON (the HTTP API's answer)
  --config FILE   the relay's config (which Redis, which prefix)

Exit status: 0 done, 1 not held (HERALD_QUARANTINE_NOT_FOUND) or Redis unavailable, 2 usage.`;

const f = printableField;
const line = (m: HeldSummary) =>
  [
    m.id,
    new Date(m.heldAt).toISOString(),
    f(m.tenant),
    // Why: the scan's reason and score, or the behaviour rule and the flagged account.
    `${f(m.reason)}${m.score === undefined ? '' : ` ${m.score.toFixed(2)}`}${m.account ? ` (account ${f(m.account)})` : ''}`,
    `<${f(m.from)}>`,
    m.recipients.map(f).join(','),
  ].join('  ');

const notHeld = (id: string) =>
  new CliExit(
    EXIT_FAILURE,
    'HERALD_QUARANTINE_NOT_FOUND',
    `no message "${f(id)}" in quarantine (unknown, released or deleted)`,
  );

async function act(
  herald: Herald,
  sub: Sub,
  id: string | undefined,
  values: Record<string, unknown>,
  io: CliIo,
) {
  const q = herald.quarantine;
  const json = values.json === true;
  if (sub === 'list') {
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
      throw usageError('quarantine list', '--limit expects a whole number ≥ 1');
    const page = await q.list({ tenant: values.tenant as string | undefined, ...(limit ? { limit } : {}) });
    if (json) io.stdout.write(`${JSON.stringify(page, null, JSON_INDENT)}\n`);
    else {
      for (const m of page.messages) io.stdout.write(`${line(m)}\n`);
      io.stdout.write(
        `${page.total} held${page.total > page.messages.length ? `, ${page.messages.length} shown` : ''}\n`,
      );
    }
    return;
  }
  if (!id) throw usageError(`quarantine ${sub}`, 'missing ID');
  if (sub === 'show') {
    if (values.raw) {
      const held = await q.read(id);
      if (!held) throw notHeld(id);
      io.stdout.write(held.body.toString('utf8'));
      return;
    }
    const held = await q.show(id);
    if (!held) throw notHeld(id);
    if (json) io.stdout.write(`${JSON.stringify(held, null, JSON_INDENT)}\n`);
    else
      io.stdout.write(
        [
          `message:    ${held.id}`,
          `tenant:     ${f(held.tenant)}`,
          `from:       <${f(held.from)}>`,
          `recipients: ${held.recipients.map(f).join(', ')}`,
          `held:       ${new Date(held.heldAt).toISOString()} via ${held.source}${held.client ? ` from ${f(held.client)}` : ''}, ${held.size} bytes`,
          `reason:     ${f(held.reason)}${held.score === undefined ? '' : `, score ${held.score.toFixed(2)}`}${held.account ? `, account ${f(held.account)}` : ''}`,
          ...(held.symbols?.length ? [`rules:      ${held.symbols.map(f).join(', ')}`] : []),
          '',
          ...held.headers.split('\r\n').map(f),
          '',
        ].join('\n'),
      );
    return;
  }
  const done = sub === 'release' ? await q.release(id, 'operator') : await q.remove(id, 'operator');
  if (!done) throw notHeld(id);
  io.stdout.write(
    `${sub === 'release' ? 'released' : 'deleted'} ${done.id} (${done.recipients.length} recipients)\n`,
  );
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'quarantine',
    args,
    {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      raw: { type: 'boolean' },
      tenant: { type: 'string' },
      limit: { type: 'string' },
    },
    true,
  );
  const [sub, id, ...extra] = positionals;
  if (!SUBCOMMANDS.includes(sub as Sub))
    throw usageError(
      'quarantine',
      sub === undefined ? `missing subcommand (${SUBCOMMANDS.join(', ')})` : `unknown subcommand "${sub}"`,
    );
  if (extra.length > 0 || (sub === 'list' && id !== undefined))
    throw usageError(`quarantine ${sub}`, `unexpected argument "${extra[0] ?? id}"`);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    await act(herald, sub as Sub, id, values, io);
  } finally {
    await herald.close();
  }
  return EXIT_OK;
}

export const quarantineCommand: Command = {
  name: 'quarantine',
  synopsis: 'list|show|release|delete',
  summary: 'messages the content scan held: list, read, release or delete them',
  help,
  run,
};
