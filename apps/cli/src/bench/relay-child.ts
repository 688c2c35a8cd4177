/**
 * Entry point of the relay child process the bench starts:
 * `node [--conditions=herald-source --import tsx] relay-child.ts <config file> [roles]`.
 * Owns: nothing but the relay it runs (runRelay: graceful stop on SIGTERM/SIGINT).
 * Guarantees: reports its listening addresses to the parent over IPC ({ type: 'started', smtp,
 * http }); shuts down gracefully when the parent goes away (IPC disconnect).
 * Needs injected: the config file path as argv[2]; optionally roles ("smtp,http") as argv[3].
 */
import { runRelay } from '@herald/relay';

const [configPath, roles] = process.argv.slice(2);
if (!configPath) {
  process.stderr.write('usage: relay-child.ts <config file> [roles]\n');
  process.exit(2);
}
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
const code = await runRelay({
  config: configPath,
  roles,
  onStarted: (info) => process.send?.({ type: 'started', ...info }),
});
process.exit(code);
