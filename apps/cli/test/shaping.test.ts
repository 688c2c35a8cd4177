import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-cli-shaping-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function shapingFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The operator contract of the shaping issue. */
const CONTRACT = `
defaults: { max_connections: 20, max_messages_per_connection: 100 }
domains:
  "slow.test": { max_connections: 2, max_message_rate: "5/s" }
automation:
  - { match: { enhanced: "4.7.28" }, action: { suspend: "2m" } }
`;

/** The line of the limits listing for `key`: "key  value  layer". */
function limitLine(out: string, key: string): string {
  return out.split('\n').find((line) => line.startsWith(`${key} `)) ?? '';
}

describe('herald shaping check', () => {
  test('the contract file is valid and lists its layers, with the shipped providers merged under it', async () => {
    const file = shapingFile('contract.yaml', CONTRACT);
    const run = captureIo();
    assert.equal(await main(['shaping', 'check', file], run.io), 0);
    const out = run.stdout();
    assert.ok(out.startsWith(`${file}: ok (provider defaults merged under it)\n`), out);
    assert.match(out, /^defaults: max_connections 20, max_messages_per_connection 100$/m);
    assert.match(out, /^ {2}gmail +\.google\.com, \.googlemail\.com; max_connections 5/m);
    assert.match(out, /^ {2}fastmail +\.messagingengine\.com;/m);
    assert.match(out, /^domains \(1\):\n {2}slow\.test +max_connections 2, max_message_rate 5\/s$/m);
    assert.match(out, /^sites: none$/m);
    assert.match(out, /^pools: none$/m);
    // The shipped provider rules first, then the operator's own.
    assert.match(out, /^automation \(\d+\):$/m);
    assert.match(out, /^ {2}\d+ +enhanced 4\.7\.28, 3 within 5m → slow_to 60\/min for 1h$/m);
    assert.match(out, /^ {2}\d+ +enhanced 4\.7\.28 → suspend the site 2m$/m);
    assert.equal(run.stderr(), '');
  });

  test('--no-provider-defaults checks the file alone', async () => {
    const file = shapingFile('alone.yaml', CONTRACT);
    const run = captureIo();
    assert.equal(await main(['shaping', 'check', file, '--no-provider-defaults'], run.io), 0);
    assert.ok(run.stdout().startsWith(`${file}: ok\n`));
    assert.match(run.stdout(), /^providers: none$/m);
  });

  test('--domain slow.test shows max_connections 2 and 5/s from the domain layer', async () => {
    const file = shapingFile('domain.yaml', CONTRACT);
    const run = captureIo();
    assert.equal(await main(['shaping', 'check', file, '--domain', 'slow.test'], run.io), 0);
    const out = run.stdout();
    assert.match(limitLine(out, 'max_connections'), /^max_connections +2 +domain:slow\.test$/);
    assert.match(limitLine(out, 'max_message_rate'), /^max_message_rate +5\/s +domain:slow\.test$/);
    assert.match(limitLine(out, 'max_messages_per_connection'), /100 +defaults$/);
    assert.match(limitLine(out, 'connect_timeout'), /30s +built-in$/);
    assert.match(out, /^layers: +defaults < domain:slow\.test$/m);
    assert.match(out, /^site: +unknown/m);
  });

  test('--mx picks the site without DNS: a Gmail-hosted domain gets the gmail provider limits', async () => {
    const file = shapingFile('gmail.yaml', CONTRACT);
    const run = captureIo();
    const args = ['shaping', 'check', file, '--domain', 'x.test', '--mx', 'gmail-smtp-in.l.google.com'];
    assert.equal(await main(args, run.io), 0);
    const out = run.stdout();
    assert.match(out, /^site: +provider:gmail \(provider gmail\)$/m);
    assert.match(limitLine(out, 'max_connections'), /^max_connections +5 +provider:gmail$/);
    assert.match(limitLine(out, 'max_messages_per_connection'), / 50 +provider:gmail$/);
    assert.match(limitLine(out, 'max_message_rate'), / 50\/s +provider:gmail$/);
    assert.match(limitLine(out, 'tls'), / require +provider:gmail$/);
  });

  test('an MX set that is not all one provider is an mx: site with the defaults', async () => {
    const file = shapingFile('mixed.yaml', CONTRACT);
    const run = captureIo();
    const mx = 'aspmx.l.google.com,backup.example.test';
    assert.equal(await main(['shaping', 'check', file, '--domain', 'x.test', '--mx', mx], run.io), 0);
    assert.match(run.stdout(), /^site: +mx:aspmx\.l\.google\.com,backup\.example\.test$/m);
    assert.match(limitLine(run.stdout(), 'max_connections'), / 20 +defaults$/);
  });

  test('pool and source layers apply on top, and --json gives each value with its layer', async () => {
    const file = shapingFile(
      'pool.yaml',
      `${CONTRACT}pools:\n  bulk: { sources: [{ ip: 127.0.0.2 }], max_connections: 3 }\nsources:\n  "127.0.0.2": { max_message_rate: "1/s" }\n`,
    );
    const run = captureIo();
    const args = [
      'shaping',
      'check',
      file,
      '--domain',
      'slow.test',
      '--pool',
      'bulk',
      '--source',
      '127.0.0.2',
    ];
    assert.equal(await main([...args, '--json'], run.io), 0);
    const json = JSON.parse(run.stdout());
    assert.deepEqual(json.layers, ['defaults', 'domain:slow.test', 'pool:bulk', 'source:127.0.0.2']);
    const byKey = new Map(json.limits.map((o: { key: string }) => [o.key, o]));
    assert.deepEqual(byKey.get('max_connections'), { key: 'max_connections', value: 3, from: 'pool:bulk' });
    assert.equal((byKey.get('max_message_rate') as { from: string }).from, 'source:127.0.0.2');
  });

  test('a misspelled key exits 1 naming its path', async () => {
    const file = shapingFile('typo.yaml', 'domains:\n  "slow.test": { max_conections: 2 }\n');
    const run = captureIo();
    assert.equal(await main(['shaping', 'check', file], run.io), 1);
    assert.match(
      run.stderr(),
      /domains\["slow\.test"\]\.max_conections: unknown key .*did you mean max_connections\?/,
    );
    assert.equal(run.stdout(), '');
  });

  test('a missing file exits 1 saying it cannot be read', async () => {
    const run = captureIo();
    assert.equal(await main(['shaping', 'check', join(dir, 'absent.yaml')], run.io), 1);
    assert.match(run.stderr(), /absent\.yaml: .*cannot read/);
  });

  test('shaping check without a file, or --mx without --domain, is a usage error (exit 2)', async () => {
    const bare = captureIo();
    assert.equal(await main(['shaping', 'check'], bare.io), 2);
    assert.match(bare.stderr(), /^herald: HERALD_CLI_USAGE: shaping check: missing FILE/);
    const file = shapingFile('usage.yaml', CONTRACT);
    const mxAlone = captureIo();
    assert.equal(await main(['shaping', 'check', file, '--mx', 'mx.example.test'], mxAlone.io), 2);
    assert.match(mxAlone.stderr(), /--mx goes with --domain/);
  });
});
