/**
 * Entry point of the relay child process the bench starts:
 * `node [--conditions=herald-source --import tsx] relay-child.ts <config file> [roles]`.
 * Owns: nothing but the relay it runs (runRelay: graceful stop on SIGTERM/SIGINT).
 * Guarantees: reports its listening addresses to the parent over IPC ({ type: 'started', smtp,
 * http }); shuts down gracefully when the parent goes away (IPC disconnect).
 * Needs injected: the config file path as argv[2]; optionally roles ("smtp,http") as argv[3].
 */
import { formatCliError, HeraldError } from '@herald/delivery-core';
import { runRelay } from '@herald/relay';

const [configPath, roles] = process.argv.slice(2);
if (!configPath) {
  process.stderr.write('usage: relay-child.ts <config file> [roles]\n');
  process.exit(2);
}
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
// A refusal at start (HERALD_REDIS_NOT_DURABLE, …) reads as `herald relay` prints it, not as an
// uncaught exception's stack in the relay log the bench shows.
const code = await runRelay({
  config: configPath,
  roles,
  onStarted: (info) => process.send?.({ type: 'started', ...info }),
}).catch((err: unknown) => {
  if (!(err instanceof HeraldError)) throw err;
  process.stderr.write(formatCliError(err.code, err.message));
  return 1;
});
process.exit(code);
