/**
 * `herald tenant status|pause|resume TENANT [--config FILE]`: a tenant's reputation over its
 * window (accepted recipients, hard bounces, complaints and their rates against the thresholds in
 * herald.yaml `tenants`), and its bulk pause: Herald pauses a tenant's non-transactional streams by
 * itself when a rate passes its threshold; an operator pauses by hand or resumes (which wakes the
 * parked bulk jobs at once). A name no tenant can have is refused (HERALD_INPUT_INVALID). Each
 * change is a tenant event in the stream. `herald tenant key …` manages the tenant's HTTP API keys
 * (tenant-key.ts).
 */
import { createHerald } from '@herald/delivery-core';
import { isTenantName } from '@herald/delivery-core/config';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printableField } from '../terminal-text.js';
import { keyHelp, runTenantKey } from './tenant-key.js';

const ACTIONS = ['status', 'pause', 'resume'] as const;
const MS_PER_HOUR = 3_600_000;

const help = `Usage: herald tenant status TENANT [--config FILE]
       herald tenant pause TENANT [--reason TEXT] [--config FILE]
       herald tenant resume TENANT [--config FILE]
${keyHelp}

status  the tenant's accepted recipients, hard bounces and complaints over its reputation
        window, the rates against its thresholds, and whether its bulk mail is paused
pause   hold the tenant's bulk mail (every stream but transactional) on every relay
resume  lift a pause (automatic or by hand); the held mail goes out at once

--config (default: REDIS_URL over the built-in defaults, else npm start's .herald/herald.yaml
in this checkout) gives the Redis and the tenants' thresholds; the Redis read is named on stderr.`;

function percent(rate: number): string {
  return `${(rate * 100).toFixed(3)} %`;
}

async function run(args: string[], io: CliIo): Promise<number> {
  if (args[0] === 'key') return runTenantKey(args.slice(1), io);
  const { values, positionals } = parseCommandArgs(
    'tenant',
    args,
    { config: { type: 'string', short: 'c' }, reason: { type: 'string' } },
    true,
  );
  const [action, tenant, ...extra] = positionals;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number]))
    throw usageError(
      'tenant',
      action === undefined
        ? `missing action (${[...ACTIONS, 'key'].join(', ')})`
        : `unknown action "${action}"`,
    );
  if (!tenant) throw usageError(`tenant ${action}`, 'missing TENANT');
  if (extra.length > 0) throw usageError(`tenant ${action}`, `unexpected argument "${extra[0]}"`);
  if (!isTenantName(tenant))
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_INPUT_INVALID',
      `no tenant can be named "${tenant}" (letters, digits and _ . -, starting with a letter or digit)`,
    );
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    if (action === 'pause') {
      const state = await herald.pauseTenant(tenant, values.reason ?? 'operator');
      io.stdout.write(`${tenant}: ${state ? 'bulk mail paused' : 'was already paused'}\n`);
    } else if (action === 'resume') {
      const resumed = await herald.resumeTenant(tenant, 'operator');
      io.stdout.write(`${tenant}: ${resumed ? 'resumed' : 'was not paused'}\n`);
    } else {
      const { policy, rates: r, paused } = await herald.tenantStatus(tenant);
      const hours = Math.round(policy.reputation_window / MS_PER_HOUR);
      io.stdout.write(
        [
          `tenant:      ${tenant}`,
          `window:      ${hours} h (judged from ${policy.reputation_min_volume} recipients)`,
          `accepted:    ${r.sent} recipients`,
          `hard:        ${r.hard} (${percent(r.bounceRate)}; threshold ${percent(policy.bounce_rate_threshold)})`,
          `complaints:  ${r.complaints} (${percent(r.complaintRate)}; threshold ${percent(policy.complaint_rate_threshold)})`,
          `bulk:        ${paused ? `paused since ${new Date(paused.at).toISOString()}: ${printableField(paused.reason)}` : 'sending'}`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await herald.close();
  }
  return EXIT_OK;
}

export const tenantCommand: Command = {
  name: 'tenant',
  synopsis: 'status|pause|resume TENANT | key create|list|revoke',
  summary: "show a tenant's reputation; pause or resume its bulk mail; manage its API keys",
  help,
  run,
};
