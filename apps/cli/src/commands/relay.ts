/**
 * `herald relay [--config FILE] [--roles smtp,worker,http]`: runs the relay daemon (runRelay from
 * @herald/relay) until SIGTERM/SIGINT. Without --config it runs on defaults (REDIS_URL honoured).
 * Prints nothing of its own: the relay logs.
 */
import { runRelay } from '@herald/relay';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../io.js';

const help = `Usage: herald relay [--config FILE] [--roles smtp,worker,http]

Run the Herald relay: SMTP submission listener, delivery workers and HTTP endpoints
(health, metrics), as the config file says.

  -c, --config FILE   config file (.yaml, .yml or .json); default: built-in defaults
                      (SMTP on 127.0.0.1:2525, HTTP on 127.0.0.1:8025)
      --roles LIST    run only these roles, comma-separated (smtp, worker, http);
                      overrides \`roles:\` in the config

Environment: REDIS_URL overrides redis.url. SIGTERM or SIGINT stops gracefully;
a second signal exits at once.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('relay', args, {
    config: { type: 'string', short: 'c' },
    roles: { type: 'string' },
  });
  return runRelay({ config: values.config, roles: values.roles, env: io.env, stderr: io.stderr });
}

export const relayCommand: Command = {
  name: 'relay',
  synopsis: '[--config FILE] [--roles smtp,worker,http]',
  summary: 'run the relay daemon',
  help,
  run,
};
