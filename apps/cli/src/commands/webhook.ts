/**
 * `herald webhook list | dead list | dead replay | purge`: the webhook endpoints (config and run
 * time) with their outbox depth, orphaned outboxes (of endpoint ids no longer configured) and
 * purging them, the batches given up on (dead-lettered after `retry_for`, or when an outbox
 * was full), and replaying them: a replayed batch goes back to the end of its endpoint's outbox
 * with a fresh retry budget and keeps its webhook-id (receivers deduplicate on it). Secrets are
 * never printed; a URL's password is masked; values from Redis are printed with printableField.
 */
import { createHerald } from '@herald/delivery-core';
import { maskUrl } from '@herald/delivery-core/config';
import type { WebhookBatch, Webhooks } from '@herald/delivery-core/webhooks';
import { MAX_DEAD_LISTED } from '@herald/delivery-core/webhooks';
import { parseCommandArgs, positiveInteger, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { tenantArg } from '../tenant-arg.js';
import { printableField } from '../terminal-text.js';

const help = `Usage: herald webhook list [--json] [--config FILE]
       herald webhook dead list [--endpoint ID] [--tenant T] [--limit N] [--json] [--config FILE]
       herald webhook dead replay (BATCH_ID | --all) [--endpoint ID] [--config FILE]
       herald webhook purge ENDPOINT_ID [--config FILE]

list         the endpoints (from the config and added at run time): id, tenant, source,
             event types, batches waiting in its outbox, URL (secrets are never shown); then
             orphaned outboxes: batches kept in Redis for an endpoint id no longer configured
             (source "orphaned", waiting and dead counts), which nothing sends
purge        delete an orphaned endpoint's outbox, dead letters and batches (refused for an
             endpoint in the config or added at run time)
dead list    batches given up on: batch id (its webhook-id), endpoint, tenant, events,
             first attempt, last attempt, last error; --json prints one object a line
dead replay  move a dead batch (or --all, optionally of one --endpoint) back to its
             endpoint's outbox with a fresh retry budget; it keeps its webhook-id

--config (default: REDIS_URL over the built-in defaults, else npm start's
.herald/herald.yaml in this checkout) says which Redis and which config endpoints.`;

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function deadLine(batch: WebhookBatch): string {
  const fields = [batch.id, batch.endpoint, batch.tenant, String(batch.events)].map(printableField);
  return [
    ...fields,
    iso(batch.firstAttemptAt),
    iso(batch.lastAttemptAt),
    printableField(batch.lastError ?? '-'),
  ].join('\t');
}

/** The text outputs' header rows (--json has none). */
const LIST_HEADER = ['ID', 'TENANT', 'SOURCE', 'EVENTS', 'OUTBOX', 'URL'].join('\t');
const DEAD_HEADER = [
  'BATCH',
  'ENDPOINT',
  'TENANT',
  'EVENTS',
  'FIRST_ATTEMPT',
  'LAST_ATTEMPT',
  'LAST_ERROR',
].join('\t');

async function listEndpoints(webhooks: Webhooks, json: boolean, io: CliIo): Promise<number> {
  const endpoints = await webhooks.listEndpoints();
  const depths = await webhooks.outboxDepths();
  const orphans = await webhooks.orphans();
  if (!json && endpoints.length + orphans.length > 0) io.stdout.write(`${LIST_HEADER}\n`);
  for (const e of endpoints) {
    const shown = {
      id: e.id,
      tenant: e.tenant,
      source: e.source,
      events: e.events,
      outbox: depths.get(e.id) ?? 0,
      url: maskUrl(e.url),
    };
    io.stdout.write(
      json
        ? `${JSON.stringify(shown)}\n`
        : `${[shown.id, shown.tenant, shown.source, shown.events.join(','), String(shown.outbox), shown.url].map(printableField).join('\t')}\n`,
    );
  }
  for (const o of orphans) {
    const shown = { id: o.id, source: 'orphaned', outbox: o.outbox, dead: o.dead };
    io.stdout.write(
      json
        ? `${JSON.stringify(shown)}\n`
        : `${[printableField(o.id), '-', 'orphaned', '-', `${o.outbox} (+${o.dead} dead)`, '-'].join('\t')}\n`,
    );
  }
  if (!json) {
    io.stderr.write(`${endpoints.length} webhook endpoint(s)\n`);
    if (orphans.length > 0)
      io.stderr.write(
        `${orphans.length} orphaned outbox(es): batches of endpoints no longer configured, sent by nothing; restore the endpoint (same id) or drop them with herald webhook purge ID\n`,
      );
  }
  return EXIT_OK;
}

async function purge(webhooks: Webhooks, id: string, io: CliIo): Promise<number> {
  const orphan = (await webhooks.orphans()).find((o) => o.id === id);
  if (!orphan) {
    const live = (await webhooks.listEndpoints()).some((e) => e.id === id);
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_INPUT_INVALID',
      live
        ? `${printableField(id)} is a live endpoint (config or run time): purge only drops orphaned outboxes; remove the endpoint first`
        : `${printableField(id)}: no orphaned outbox (see herald webhook list)`,
    );
  }
  const dropped = await webhooks.purgeOrphan(id);
  if (dropped === undefined)
    throw new CliExit(EXIT_FAILURE, 'HERALD_INPUT_INVALID', `${printableField(id)} is a live endpoint`);
  io.stdout.write(`purged ${printableField(id)}: ${dropped} batch(es)\n`);
  return EXIT_OK;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'webhook',
    args,
    {
      config: { type: 'string', short: 'c' },
      endpoint: { type: 'string' },
      tenant: { type: 'string', short: 't' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      all: { type: 'boolean' },
    },
    true,
  );
  const action = positionals.slice(0, positionals[0] === 'dead' ? 2 : 1).join(' ');
  const operands = positionals.slice(positionals[0] === 'dead' ? 2 : 1);
  if (!['list', 'dead list', 'dead replay', 'purge'].includes(action))
    throw usageError(
      'webhook',
      action === '' ? 'missing action (list, dead list, dead replay, purge)' : `unknown action "${action}"`,
    );
  const command = `webhook ${action}`;
  if (action === 'dead replay' && (values.all ? operands.length !== 0 : operands.length !== 1))
    throw usageError(command, 'expected one BATCH_ID or --all');
  if (action === 'purge' && operands.length !== 1) throw usageError(command, 'expected one ENDPOINT_ID');
  if (action !== 'dead replay' && action !== 'purge' && operands.length > 0)
    throw usageError(command, `unexpected argument "${operands[0]}"`);
  const tenant = values.tenant === undefined ? undefined : tenantArg(values.tenant);
  const limit =
    values.limit === undefined
      ? MAX_DEAD_LISTED
      : positiveInteger(command, 'limit', values.limit, MAX_DEAD_LISTED);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  const { webhooks } = herald;
  try {
    if (
      values.endpoint !== undefined &&
      !(await webhooks.listEndpoints()).some((e) => e.id === values.endpoint)
    )
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_INPUT_INVALID',
        `--endpoint ${printableField(values.endpoint)}: no such endpoint`,
      );
    if (action === 'list') return await listEndpoints(webhooks, values.json ?? false, io);
    if (action === 'purge') return await purge(webhooks, operands[0]!, io);
    if (action === 'dead list') {
      const dead = await webhooks.deadLetters({
        ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
        ...(tenant === undefined ? {} : { tenant }),
        limit,
      });
      if (!values.json && dead.length > 0) io.stdout.write(`${DEAD_HEADER}\n`);
      for (const batch of dead) {
        const { body: _body, ...shown } = batch;
        io.stdout.write(values.json ? `${JSON.stringify(shown)}\n` : `${deadLine(batch)}\n`);
      }
      if (!values.json) io.stderr.write(`${dead.length} dead-lettered batch(es)\n`);
      return EXIT_OK;
    }
    const moved = values.all
      ? await webhooks.replay({
          all: true,
          ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
        })
      : await webhooks.replay({ batch: operands[0]! });
    if (!values.all && moved === 0)
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_INPUT_INVALID',
        `${printableField(operands[0]!)}: no such dead-lettered batch (see herald webhook dead list)`,
      );
    io.stdout.write(`replayed ${moved} batch(es)\n`);
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}

export const webhookCommand: Command = {
  name: 'webhook',
  synopsis: 'list | dead list|replay | purge',
  summary: 'webhook endpoints, their dead-lettered batches (list, replay), orphaned outboxes (purge)',
  help,
  run,
};
