#!/usr/bin/env node
/**
 * The `herald` npm bin. A build (../dist/main.js) is imported and run in this process. A dev
 * checkout without a build re-executes Node on the TypeScript sources:
 *   node --conditions=herald-source --import <repo's tsx> apps/cli/src/main.ts <args>
 * with the same stdio and this process's exit code (or signal). tsx is resolved from here, i.e.
 * the repository's node_modules, so `herald` works from any working directory.
 * HERALD_FROM_SOURCE=1 forces the sources even when a (possibly stale) build exists.
 * The shebang is plain `env node` (BusyBox's env has no -S), so a relay started through the bin
 * as a program runs with Node's default semi-space unless NODE_OPTIONS gives the relay's
 * (apps/relay/src/heap.ts RELAY_NODE_FLAGS); Herald's own launchers pass it on Node's command line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const args = process.argv.slice(2);

if (existsSync(built) && process.env.HERALD_FROM_SOURCE !== '1') {
  const { runMain } = await import(pathToFileURL(built).href);
  await runMain(args);
} else {
  runFromSource();
}

function runFromSource() {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write(
      'herald: no build (apps/cli/dist) and tsx is not installed; run `npm install` or `npm run build`\n',
    );
    process.exit(1);
  }
  const child = spawn(process.execPath, ['--conditions=herald-source', '--import', tsx, source, ...args], {
    stdio: 'inherit',
  });
  // A terminal's Ctrl-C already reaches the child (same process group); forwarding it as well
  // would count as a second signal, which makes the relay exit at once. Forward it only when no
  // terminal is attached (someone ran `kill -INT <this pid>`).
  const onTerminal = Boolean(process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY);
  const forward = (signal) => {
    if (signal === 'SIGINT' && onTerminal) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (err) => {
    process.stderr.write(`herald: cannot start node: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(s, forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
