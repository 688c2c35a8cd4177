import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

// The reload itself, against a real relay, is test/config-reload.test.ts.
describe('herald config reload', () => {
  test('without --pid it is a usage error (exit 2) and signals nothing', async () => {
    const run = captureIo();
    assert.equal(await main(['config', 'reload'], run.io), 2);
    assert.match(run.stderr(), /HERALD_CLI_USAGE: config reload: --pid needs the relay process id/);
    assert.equal(run.stdout(), '');
  });

  test('--help names the exit codes', async () => {
    const run = captureIo();
    assert.equal(await main(['config', '--help'], run.io), 0);
    assert.match(run.stdout(), /herald config reload --pid PID/);
    assert.match(run.stdout(), /Exits 0 when the reload applied/);
  });
});

/**
 * A stand-in process with the relay's reload interface: SIGHUP counts a reload and /readyz shows
 * it, with the config hash `hashes[reloads]` (the last one repeats) and `needsRestart`.
 */
async function reloadable(
  hashes: string[],
  needsRestart: string[] = [],
): Promise<{ pid: number; url: string; stop(): void }> {
  const script = `
    const hashes = ${JSON.stringify(hashes)};
    const needsRestart = ${JSON.stringify(needsRestart)};
    let reloads = 0;
    process.on('SIGHUP', () => { reloads++; });
    const server = require('node:http').createServer((req, res) => {
      const hash = hashes[Math.min(reloads, hashes.length - 1)];
      const lastReload = reloads > 0 ? { ok: true, at: new Date().toISOString(), needsRestart } : undefined;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ready: true, config: { hash, reloads, failures: 0, lastReload } }));
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    pid: child.pid as number,
    url: `http://127.0.0.1:${line.toString().trim()}`,
    stop: () => child.kill('SIGTERM'),
  };
}

describe('herald config reload --http: the outcome', () => {
  test('a new version prints old → new', async (t) => {
    const proc = await reloadable(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    t.after(proc.stop);
    const run = captureIo();
    assert.equal(await main(['config', 'reload', '--pid', String(proc.pid), '--http', proc.url], run.io), 0);
    assert.equal(run.stdout(), 'reloaded: aaaaaaaaaaaa → bbbbbbbbbbbb\n');
  });

  test('the same version again says so, and asks whether the edited file is the one read', async (t) => {
    const proc = await reloadable(['aaaaaaaaaaaa']);
    t.after(proc.stop);
    const run = captureIo();
    assert.equal(await main(['config', 'reload', '--pid', String(proc.pid), '--http', proc.url], run.io), 0);
    assert.match(run.stdout(), /^reloaded: aaaaaaaaaaaa \(unchanged: .*--config names\?\)\n$/);
  });

  test('the same version with keys needing a restart says the edit was seen, not applied', async (t) => {
    const proc = await reloadable(['aaaaaaaaaaaa'], ['http.ui.enabled']);
    t.after(proc.stop);
    const run = captureIo();
    assert.equal(await main(['config', 'reload', '--pid', String(proc.pid), '--http', proc.url], run.io), 0);
    assert.equal(
      run.stdout(),
      'reloaded: aaaaaaaaaaaa (unchanged: every change it found needs a restart)\nneeds restart (kept as running): http.ui.enabled\n',
    );
  });
});
