/**
 * `herald bounce-processor --config FILE`: runs the bounce-processor daemon alone (runBounceProcessor
 * from @herald/bounce-processor) until SIGTERM/SIGINT: the SMTP listener on `bounce.listen` for
 * bounces and complaints to the VERP return paths, and /healthz, /readyz, /metrics on
 * `bounce.http_listen`. The config must have a `bounce` section.
 */
import { runBounceProcessor } from '@herald/bounce-processor';
import { parseCommandArgs, usageError } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../io.js';

const help = `Usage: herald bounce-processor --config FILE

Run the bounce-processor: an SMTP listener on bounce.listen that accepts bounces and
complaint reports for Herald's VERP return paths (bounces+<token>@bounce.domain) and the
complaint address, classifies them, suppresses hard bounces and complainers per tenant,
and records bounce_received / complaint_received events. Serves /healthz, /readyz and
/metrics (its feedback counters) on bounce.http_listen (default 127.0.0.1:8026).

  -c, --config FILE   the relay's config file; it must have a bounce section with at least
                      bounce: { domain: "bounces.example.com", verp_secret: "..." }
                      (listen defaults to 127.0.0.1:2600)

Environment: REDIS_URL overrides redis.url. SIGTERM or SIGINT stops; a second signal
exits at once. SIGHUP (herald config reload --pid) reads the file again: tenants, the
VERP secrets, verp_max_age and complaint_address apply to the next RCPT; other changed
keys need a restart; an invalid file keeps the running config.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('bounce-processor', args, { config: { type: 'string', short: 'c' } });
  if (!values.config) throw usageError('bounce-processor', 'missing --config FILE');
  return runBounceProcessor({
    config: values.config,
    env: io.env,
    stderr: io.stderr,
    onStarted: ({ host, port, http }) =>
      io.stderr.write(
        `herald bounce-processor listening on ${host}:${port} (SMTP), http://${http.host}:${http.port}/metrics\n`,
      ),
  });
}

export const bounceProcessorCommand: Command = {
  name: 'bounce-processor',
  synopsis: '--config FILE',
  summary: 'run the bounce-processor daemon (bounces and complaints for VERP return paths)',
  help,
  run,
};
