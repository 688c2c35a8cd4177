/**
 * Entry point of a relay in a child process (see relay-process.ts): runs the relay's own entry
 * point (`runRelay` from @herald/relay, what `herald relay --config FILE` runs) on the config file
 * named in argv[2], and prints the listening addresses as ONE JSON line on stdout:
 * {"heraldRelayStarted":{"smtp":{...},"http":{...}}}. SIGTERM stops it gracefully, SIGHUP reloads
 * the config file; the crash test SIGKILLs it instead. Plain JavaScript, so the same script runs
 * the relay's sources (under tsx with the herald-source condition) or its build (plain node,
 * HERALD_TEST_CHILDREN=dist: see children.ts).
 */
import { runRelay } from '@herald/relay';

/** Keep in step with relay-process.ts, which looks for this key. */
const STARTED_KEY = 'heraldRelayStarted';

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: relay-child.mjs CONFIG_FILE\n');
  process.exit(2);
}
const code = await runRelay({
  config: configPath,
  env: {},
  onStarted: (addresses) => process.stdout.write(`${JSON.stringify({ [STARTED_KEY]: addresses })}\n`),
});
process.exit(code);
