import assert from 'node:assert/strict';
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
