/**
 * package.json's long-running scripts (`start`, `herald`, `bench`): npm runs each through `sh -c`
 * and forwards SIGINT/SIGTERM only to that shell. Without `exec` the shell stayed between npm and
 * node: `kill -TERM` of npm's PID killed the shell alone and left node running as an orphan — for
 * `start`, start.mjs, the relay, the bounce-processor and redis-server (holding .herald/start.pid);
 * for `npm run herald -- relay` the relay. With `exec` the shell becomes node, so the signal npm
 * forwards reaches it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RELAY_NODE_FLAGS } from '@herald/relay';

const ROOT = join(import.meta.dirname, '..');
const CLI_ENTRY = 'node --conditions=herald-source --import tsx apps/cli/src/main.ts';
/** `npm run herald` may run the relay: Node gets the relay's flags (apps/relay/src/heap.ts). */
const RELAY_CLI_ENTRY = `node ${RELAY_NODE_FLAGS.join(' ')} --conditions=herald-source --import tsx apps/cli/src/main.ts`;
/** Per script: the node command that must end up as the shell's process, and what runs before it. */
const SCRIPTS = [
  { name: 'start', entry: 'node scripts/start.mjs', before: '' },
  { name: 'herald', entry: RELAY_CLI_ENTRY, before: '' },
  // ensure.mjs (install and build) runs first and exits; a stand-in `true` keeps the test light.
  { name: 'bench', entry: CLI_ENTRY, before: 'node scripts/ensure.mjs' },
];
/** Stands in for node: prints its PID, then exits 0 on SIGTERM as start.mjs and the CLI do. */
const STAND_IN = `node -e "process.on('SIGTERM',()=>process.exit(0));console.log(process.pid);setInterval(()=>{},1000)"`;

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

for (const { name, entry, before } of SCRIPTS) {
  test(`the ${name} script execs node, so a signal sent to the shell npm started reaches it`, async () => {
    const script = pkg.scripts[name] ?? '';
    assert.ok(script.includes(entry), `${name} script is "${script}"`);
    const stood = script.replace(entry, STAND_IN);
    const command = before ? stood.replace(before, 'true') : stood;
    const shell = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [first] = (await once(shell.stdout, 'data')) as [Buffer];
    const standIn = Number(first.toString().trim());
    try {
      // The process npm holds is node itself, not a shell that a SIGTERM kills while node runs on.
      assert.equal(standIn, shell.pid, `the ${name} script's shell did not exec node`);
      shell.kill('SIGTERM');
      const [code, signal] = (await once(shell, 'exit')) as [number | null, string | null];
      assert.deepEqual({ code, signal }, { code: 0, signal: null }); // the stand-in's own handler
    } finally {
      if (standIn !== shell.pid) process.kill(standIn, 'SIGTERM'); // never leave it orphaned
      shell.kill('SIGTERM');
    }
  });
}
