/**
 * package.json's `start` script: npm runs it through `sh -c` and forwards SIGINT/SIGTERM only to
 * that shell. Without `exec` the shell stayed between npm and scripts/start.mjs: `kill -TERM` of
 * npm's PID killed the shell alone and left start.mjs, the relay, the bounce-processor and
 * redis-server running as orphans (holding .herald/start.pid); SIGINT was not passed on at all.
 * With `exec` the shell becomes start.mjs, so the signal npm forwards reaches it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const START_ENTRY = 'node scripts/start.mjs';
/** Stands in for start.mjs: prints its PID, then exits 0 on SIGTERM as start.mjs does. */
const STAND_IN = `node -e "process.on('SIGTERM',()=>process.exit(0));console.log(process.pid);setInterval(()=>{},1000)"`;

test('the start script execs node, so a signal sent to the shell npm started reaches start.mjs', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts.start ?? '';
  assert.ok(script.includes(START_ENTRY), `start script is "${script}"`);
  const shell = spawn('/bin/sh', ['-c', script.replace(START_ENTRY, STAND_IN)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [first] = (await once(shell.stdout, 'data')) as [Buffer];
  const standIn = Number(first.toString().trim());
  try {
    // The process npm holds is node itself, not a shell that a SIGTERM kills while node runs on.
    assert.equal(standIn, shell.pid, 'the shell did not exec node');
    shell.kill('SIGTERM');
    const [code, signal] = (await once(shell, 'exit')) as [number | null, string | null];
    assert.deepEqual({ code, signal }, { code: 0, signal: null }); // the stand-in's own handler
  } finally {
    if (standIn !== shell.pid) process.kill(standIn, 'SIGTERM'); // never leave it orphaned
    shell.kill('SIGTERM');
  }
});
