/**
 * `herald queue retry|flush|delete|bounce` (Postfix's `postsuper -r/-d`, `postqueue -f/-s`,
 * KumoMTA's `kcli bounce`): each parses its target, calls one Herald verb and prints what changed
 * — jobs made ready (and those left in flight, or held by a suspension), or recipients ended now
 * and those marked to end after the attempt in flight. A delete without a message id or a filter
 * is refused.
 */
import {
  createHerald,
  type Herald,
  type QueueTarget,
  type RemoveResult,
  type WakeResult,
} from '@herald/delivery-core';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { checkQueueSite } from '../queue-site.js';
import { loadRelayConfig } from '../relay-config.js';

const JSON_INDENT = 2;

export type Action = 'retry' | 'flush' | 'delete' | 'bounce';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  site: { type: 'string' },
  all: { type: 'boolean' },
  tenant: { type: 'string' },
  from: { type: 'string' },
  'to-domain': { type: 'string', multiple: true },
  reason: { type: 'string' },
} as const;

/** The flags each action takes besides --config and --json. */
const FLAGS: Record<Action, readonly string[]> = {
  retry: ['site', 'all'],
  flush: [],
  delete: ['site', 'tenant', 'from', 'to-domain'],
  bounce: ['site', 'reason'],
};

function wakeText(action: Action, r: WakeResult): string {
  const lines = [`${r.woken} job${r.woken === 1 ? '' : 's'} made ready now`];
  if (r.ready > 0) lines.push(`${r.ready} already ready`);
  if (r.inFlight > 0) lines.push(`${r.inFlight} in flight`);
  if (r.held > 0)
    lines.push(
      `${r.held} held by a site suspension or a tenant pause (${action} does not lift them: herald site resume, herald tenant resume)`,
    );
  return `${lines.join('; ')}\n`;
}

function removeText(r: RemoveResult): string {
  const done = r.action === 'delete' ? 'deleted' : 'bounced';
  let text = `${done} now: ${r.removed.jobs} job${r.removed.jobs === 1 ? '' : 's'}, ${r.removed.recipients} recipient${r.removed.recipients === 1 ? '' : 's'}\n`;
  if (r.marked.jobs > 0)
    text += `in flight: ${r.marked.jobs} job${r.marked.jobs === 1 ? '' : 's'}, ${r.marked.recipients} recipient${r.marked.recipients === 1 ? '' : 's'} still pending: ${done} after their attempt unless it delivers them\n`;
  return text;
}

export async function runAction(action: Action, args: string[], io: CliIo): Promise<number> {
  const command = `queue ${action}`;
  const { values, positionals } = parseCommandArgs(command, args, OPTIONS, true);
  for (const flag of Object.keys(values))
    if (!['config', 'json', ...FLAGS[action]].includes(flag))
      throw usageError(command, `--${flag} does not apply to ${action}`);
  const [id, ...extra] = positionals;
  if (extra.length > 0) throw usageError(command, `unexpected argument "${extra[0]}"`);
  const call = target(action, id, values);
  const config = loadRelayConfig(values.config, io);
  if (!config) return EXIT_FAILURE;
  const site = action === 'flush' ? id : values.site;
  if (site !== undefined) checkQueueSite(site, config);
  const herald = await createHerald(config);
  try {
    const result = await call(herald);
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, JSON_INDENT)}\n`);
    else io.stdout.write('action' in result ? removeText(result) : wakeText(action, result));
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}

type Values = {
  [K in keyof typeof OPTIONS]?: K extends 'to-domain'
    ? string[]
    : K extends 'all' | 'json'
      ? boolean
      : string;
};

/** What the command line asks for, as one verb call; usage errors before any connection. */
function target(
  action: Action,
  id: string | undefined,
  values: Values,
): (herald: Herald) => Promise<WakeResult | RemoveResult> {
  const command = `queue ${action}`;
  const site = values.site;
  const exclusive = (given: boolean, what: string) => {
    if (id !== undefined && given) throw usageError(command, `give a message id or ${what}, not both`);
  };
  if (action === 'flush') {
    if (!id) throw usageError(command, 'missing SITE');
    return (h) => h.flushSite(id);
  }
  if (action === 'retry') {
    exclusive(site !== undefined || values.all === true, '--site / --all');
    if (site !== undefined && values.all) throw usageError(command, 'give --site or --all, not both');
    const t: QueueTarget | undefined = id
      ? { messageId: id }
      : site
        ? { site }
        : values.all
          ? { all: true }
          : undefined;
    if (!t) throw usageError(command, 'say what to retry: a message id, --site SITE or --all');
    return (h) => h.retryQueued(t);
  }
  if (action === 'bounce') {
    exclusive(site !== undefined, '--site');
    if (!id && !site) throw usageError(command, 'say what to bounce: a message id or --site SITE');
    const reason = values.reason === undefined ? {} : { reason: values.reason };
    return (h) => h.bounceQueued(id ? { messageId: id } : { site: site! }, reason);
  }
  const filter = {
    ...(site !== undefined ? { site } : {}),
    ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values['to-domain'] ? { toDomains: values['to-domain'] } : {}),
  };
  exclusive(Object.keys(filter).length > 0, 'filters');
  if (!id && Object.keys(filter).length === 0)
    throw usageError(
      command,
      'refusing to delete without a message id or a filter (--site, --tenant, --from, --to-domain)',
    );
  return (h) => h.deleteQueued(id ? { messageId: id } : filter);
}
