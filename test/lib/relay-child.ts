/**
 * Entry point of a relay in a child process (see relay-process.ts): runs the relay's own entry
 * point (`runRelay` from @herald/relay, what `herald relay --config FILE` runs) on the config file
 * named in argv[2], and prints the listening addresses as ONE JSON line on stdout:
 * {"heraldRelayStarted":{"smtp":{...},"http":{...}}}. SIGTERM stops it gracefully, SIGHUP reloads
 * the config file; the crash test SIGKILLs it instead.
 */
import { runRelay } from '@herald/relay';

/** Keep in step with relay-process.ts, which looks for this key. */
const STARTED_KEY = 'heraldRelayStarted';

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: relay-child.ts CONFIG_FILE\n');
  process.exit(2);
}
const code = await runRelay({
  config: configPath,
  env: {},
  onStarted: (addresses) => process.stdout.write(`${JSON.stringify({ [STARTED_KEY]: addresses })}\n`),
});
process.exit(code);
