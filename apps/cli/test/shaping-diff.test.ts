import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'shaping-diff');
const OLD = join(FIXTURES, 'old.yaml');
const NEW = join(FIXTURES, 'new.yaml');

describe('herald shaping diff', () => {
  test('shows each changed limit per site, old → new with its layer, and exits 1', async () => {
    const run = captureIo();
    assert.equal(await main(['shaping', 'diff', OLD, NEW, '--no-provider-defaults'], run.io), 1);
    const out = run.stdout();
    assert.equal(
      out,
      [
        'domain:fresh.test (added)',
        '  max_message_rate  unlimited (built-in) → 1/s (domain:fresh.test)',
        'domain:gone.test (removed)',
        '  max_connections  1 (domain:gone.test) → 20 (defaults)',
        'domain:slow.test',
        '  max_message_rate  5/s (domain:slow.test) → 10/s (domain:slow.test)',
        'provider:gmail',
        '  max_connections  5 (provider:gmail) → 3 (site:provider:gmail)',
        'tenants',
        '  acme: max_message_rate 100/min → max_message_rate 200/min',
        'automation: 0 rules → 1 rules (changed)',
        '4 sites change, 0 unchanged',
        '',
      ].join('\n'),
    );
    assert.equal(run.stderr(), '');
  });

  test('a file against itself changes nothing and exits 0', async () => {
    const run = captureIo();
    assert.equal(await main(['shaping', 'diff', NEW, NEW], run.io), 0);
    assert.match(run.stdout(), /^no limit changes \(\d+ sites compared\)$/m);
  });

  test('--json gives the same diff as data', async () => {
    const run = captureIo();
    assert.equal(await main(['shaping', 'diff', OLD, NEW, '--no-provider-defaults', '--json'], run.io), 1);
    const diff = JSON.parse(run.stdout()) as { targets: { target: string; changes: { key: string }[] }[] };
    assert.deepEqual(
      diff.targets.map((t) => t.target),
      ['domain:fresh.test', 'domain:gone.test', 'domain:slow.test', 'provider:gmail'],
    );
  });

  test('an invalid NEW file exits 2 naming the key path', async () => {
    const run = captureIo();
    assert.equal(await main(['shaping', 'diff', OLD, join(FIXTURES, 'bad.yaml')], run.io), 2);
    assert.match(run.stderr(), /HERALD_CONFIG_INVALID.*max_conections/);
    assert.equal(run.stdout(), '');
  });
});
