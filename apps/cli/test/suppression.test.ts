import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald suppression', () => {
  let redis: RedisHandle;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'herald-suppression-cli-'));
    env = { REDIS_URL: redis.url };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.client().flushall();
  });

  const herald = async (args: string[], stdin?: string) => {
    const run = captureIo({ env, ...(stdin === undefined ? {} : { stdin }) });
    const code = await main(['suppression', ...args], run.io);
    return { code, stdout: run.stdout(), stderr: run.stderr() };
  };

  it('adds, lists and removes addresses of one tenant', async () => {
    const added = await herald([
      'add',
      'Gone@example.com',
      'full@example.com',
      '--tenant',
      'acme',
      '--reason',
      'userunknown',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'acme: 2 suppressed until never\n');
    const soft = await herald(['add', 'later@example.com', '--tenant', 'acme', '--expires', '7d']);
    assert.match(soft.stdout, /^acme: 1 suppressed until \d{4}-\d\d-\d\dT/);

    const listed = await herald(['list', '--tenant', 'acme']);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n').sort();
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /^full@example\.com\tuserunknown\tmanual\t\d{4}-.*\tnever$/);
    assert.match(rows[2]!, /^later@example\.com\tmanual\tmanual\t.*\t\d{4}-/);
    // The first line says which Redis was read; the count follows.
    assert.match(listed.stderr, /^redis: redis:\/\/127\.0\.0\.1:\d+ \(REDIS_URL\)\nacme: 3 suppressed\n$/);
    assert.match((await herald(['list', '--tenant', 'other'])).stderr, /\nother: 0 suppressed\n$/);

    const removed = await herald(['remove', 'GONE@example.com', 'nobody@example.com', '--tenant', 'acme']);
    assert.equal(removed.stdout, 'GONE@example.com: removed\nnobody@example.com: was not suppressed\n');
    const json = await herald(['list', '--tenant', 'acme', '--json', '--limit', '1']);
    assert.equal(json.stdout.trim().split('\n').length, 1);
    assert.ok(JSON.parse(json.stdout).address);
  });

  it('lists stored control characters escaped, never raw to the terminal', async () => {
    // Written by anyone with access to the Redis, not through Herald's validation.
    const stored = JSON.stringify({ reason: '\x1b]0;PWNED\x07\x1b[2J', source: 'manual', at: Date.now() });
    await redis.client().hset('herald:suppress:{acme}', 'x@example.com', stored);
    const listed = await herald(['list', '--tenant', 'acme']);
    assert.match(listed.stdout, /^x@example\.com\t\\x1b\]0;PWNED\\x07\\x1b\[2J\tmanual\t/);
    assert.doesNotMatch(listed.stdout + listed.stderr, /\x1b/);
    const removed = await herald(['remove', 'y\x1b[2J@example.com', '--tenant', 'acme']);
    assert.doesNotMatch(removed.stdout + removed.stderr, /\x1b/);
  });

  it('refuses a --tenant that no mail can have, before touching Redis', async () => {
    for (const action of [
      ['list'],
      ['add', 'x@example.com'],
      ['remove', 'x@example.com'],
      ['import', '-'],
      ['export'],
    ]) {
      const run = await herald([...action, '--tenant', '{queue}'], 'address\nx@example.com\n');
      assert.equal(run.code, 1, action[0]);
      assert.match(
        run.stderr,
        /^herald: HERALD_INPUT_INVALID: --tenant "\{queue\}": not a tenant name/,
        action[0],
      );
    }
    assert.deepEqual(await redis.client().keys('*'), []);
  });

  it('import reports lines that are not UTF-8 as bad, by number, and imports the rest', async () => {
    const file = join(dir, 'latin1.csv');
    const latin1 = Buffer.from('\xfc\xe9@example.com\n', 'latin1');
    await writeFile(
      file,
      Buffer.concat([Buffer.from('address\nok@example.com\n'), latin1, Buffer.from('fine@example.com\n')]),
    );
    const imported = await herald(['import', file, '--tenant', 'acme']);
    assert.equal(imported.code, 1, imported.stderr);
    assert.match(imported.stderr, /HERALD_INPUT_INVALID: .*latin1\.csv: line 3: not valid UTF-8\n/);
    assert.match(imported.stdout, /^acme: imported 2 of 3 rows .* 1 bad\)\n$/);
    const listed = await herald(['list', '--tenant', 'acme']);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0])
        .sort(),
      ['fine@example.com', 'ok@example.com'],
    );
  });

  it('exports to a file and imports it into another tenant', async () => {
    await herald(['add', 'a@example.com', 'b@example.com', '--tenant', 'acme', '--reason', 'feedback']);
    const file = join(dir, 'acme.csv');
    const exported = await herald(['export', file, '--tenant', 'acme']);
    assert.equal(exported.code, 0, exported.stderr);
    const csv = await readFile(file, 'utf8');
    assert.match(csv, /^address,reason,source,at,expires_at\r\n/);
    const imported = await herald(['import', file, '--tenant', 'copy']);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(
      imported.stdout,
      'copy: imported 2 of 2 rows (0 already suppressed for longer, 0 expired, 0 bad)\n',
    );
    const stdout = await herald(['export', '--tenant', 'copy']);
    assert.deepEqual(stdout.stdout.split('\r\n').sort(), csv.split('\r\n').sort());
  });

  it('imports from stdin and names bad lines, exiting 1', async () => {
    const csv = 'address,reason\nok@example.com,userunknown\nbroken,userunknown\n';
    const result = await herald(['import', '-', '--tenant', 'acme'], csv);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^herald: HERALD_INPUT_INVALID: -: line 3: invalid address "broken"/m);
    assert.equal(
      result.stdout,
      'acme: imported 1 of 2 rows (0 already suppressed for longer, 0 expired, 1 bad)\n',
    );
    await writeFile(join(dir, 'empty.csv'), '');
    assert.equal((await herald(['import', join(dir, 'empty.csv'), '--tenant', 'acme'])).code, 1);
  });

  it('refuses a missing tenant, action or address as usage errors', async () => {
    assert.equal((await herald(['list'])).code, 2);
    assert.equal((await herald(['purge', '--tenant', 'acme'])).code, 2);
    assert.equal((await herald(['add', '--tenant', 'acme'])).code, 2);
    assert.equal((await herald(['add', 'a@example.com', '--tenant', 'acme', '--expires', 'soon'])).code, 2);
    assert.equal((await herald(['import', '--tenant', 'acme'])).code, 2);
  });
});
