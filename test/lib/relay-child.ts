/**
 * Entry point of a relay in a child process (see relay-process.ts): loads the config file named
 * in argv[2] with loadConfigFile, runs createRelay(...).start(), and prints the listening
 * addresses as ONE JSON line on stdout: {"heraldRelayStarted":{"smtp":{...},"http":{...}}}.
 * SIGTERM stops it gracefully; the crash test SIGKILLs it instead.
 */
import { loadConfigFile } from '@herald/delivery-core';
import { createRelay } from '@herald/relay';

/** Keep in step with relay-process.ts, which looks for this key. */
const STARTED_KEY = 'heraldRelayStarted';

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: relay-child.ts CONFIG_FILE\n');
  process.exit(2);
}
const relay = await createRelay(loadConfigFile(configPath, { env: {} }));
const addresses = await relay.start();
process.stdout.write(`${JSON.stringify({ [STARTED_KEY]: addresses })}\n`);
process.once('SIGTERM', () => {
  void relay.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
