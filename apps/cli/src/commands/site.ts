/**
 * `herald site suspend SITE [--for 1h] [--config FILE]` and `herald site resume SITE`: an
 * operator stops delivery to a site (every relay sharing the Redis holds its jobs, without
 * spending attempts, until the suspension lifts by itself or is resumed) or lifts a suspension or
 * rate cut early. Sites are named as `herald shaping check` shows them: provider:gmail,
 * mx:mx1.example.net,mx2.example.net, route:host:port. A name delivery never produces (an unknown
 * provider of the shaping file in force, MX hosts not lower-case and sorted, a malformed route) is
 * refused by suspend (HERALD_INPUT_INVALID, exit 1) and is "nothing to resume" for resume (which
 * still lifts a state left under that name). Each change is a site event in the stream.
 */
import { createHerald, loadShaping, parseHoldDuration } from '@herald/delivery-core';
import { routeSites, siteNameProblem } from '@herald/delivery-core/sites';
import { parseCommandArgs, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';

const DEFAULT_SUSPEND = '1h';

const help = `Usage: herald site suspend SITE [--for DURATION] [--config FILE]
       herald site resume SITE [--config FILE]

suspend  stop delivering to SITE for DURATION (default ${DEFAULT_SUSPEND}); relays hold its jobs and
         send them when the suspension lifts, without spending delivery attempts
resume   lift a suspension or an automation rate cut of SITE now

SITE is named as \`herald shaping check\` shows it: provider:gmail (a provider of the shaping
file in force), mx:<sorted MX hosts>, route:<host>:<port>; suspend refuses any other name.
--config (default: REDIS_URL over the built-in defaults, else npm start's .herald/herald.yaml in
this checkout) says which Redis; the Redis read is named on stderr.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'site',
    args,
    { for: { type: 'string' }, config: { type: 'string', short: 'c' } },
    true,
  );
  const [action, site, ...extra] = positionals;
  if (action !== 'suspend' && action !== 'resume') {
    throw usageError(
      'site',
      action === undefined ? 'missing action (suspend or resume)' : `unknown action "${action}"`,
    );
  }
  if (!site) throw usageError(`site ${action}`, 'missing SITE');
  if (extra.length > 0) throw usageError(`site ${action}`, `unexpected argument "${extra[0]}"`);
  let forMs = 0;
  if (action === 'suspend') {
    try {
      forMs = parseHoldDuration(values.for ?? DEFAULT_SUSPEND);
    } catch {
      throw usageError(
        'site suspend',
        `--for: expected a duration like 30m or 2h, at most 36500d, got "${values.for}"`,
      );
    }
  }
  const config = loadRelayConfig(values.config, io, { spools: false });
  if (!config) return EXIT_FAILURE;
  const problem = siteNameProblem(
    site,
    Object.keys(loadShaping(config).providers),
    routeSites(config.routes),
  );
  if (problem && action === 'suspend') throw new CliExit(EXIT_FAILURE, 'HERALD_INPUT_INVALID', problem);
  const herald = await createHerald(config);
  try {
    if (action === 'suspend') {
      const until = await herald.suspendSite(site, forMs, 'operator');
      io.stdout.write(`${site}: suspended until ${new Date(until).toISOString()}\n`);
    } else {
      const lifted = await herald.resumeSite(site, 'operator');
      const idle = problem ? `nothing to resume: ${problem}` : 'was not suspended or slowed';
      io.stdout.write(`${site}: ${lifted ? 'resumed' : idle}\n`);
    }
  } finally {
    await herald.close();
  }
  return EXIT_OK;
}

export const siteCommand: Command = {
  name: 'site',
  synopsis: 'suspend|resume SITE [--for 1h]',
  summary: 'suspend or resume delivery to a site on every relay',
  help,
  run,
};
