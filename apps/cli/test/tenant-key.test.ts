/**
 * `herald tenant key`: a whole key given to `revoke` (or by mistake to `list`/`create`) is never
 * printed back — stdout names only the key id, errors show the key with its secret part cut; the
 * text list has a header row. A private Redis, the command run in-process.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald tenant key', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  const cli = async (...args: string[]) => {
    const run = captureIo({ env: { REDIS_URL: redis.url } });
    const code = await main(['tenant', 'key', ...args], run.io);
    return { code, stdout: run.stdout(), stderr: run.stderr() };
  };

  it('revokes by the whole key printing only its id, and never echoes the secret', async () => {
    const created = await cli('create', 'shop', '--label', 'ci');
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    const [, id, secret] = /^hk_([0-9a-f]{16})_(\S+)$/.exec(key) ?? [];
    assert.ok(id && secret, key);

    const listed = await cli('list');
    assert.equal(listed.code, 0, listed.stderr);
    const [header, row] = listed.stdout.trim().split('\n');
    // Columns line up under the header (two spaces after the widest cell of each).
    assert.match(header!, /^ID {16}TENANT {2}CREATED {19}LABEL$/);
    assert.match(row!, new RegExp(`^${id} {2}shop {4}\\S+ {2}ci$`));
    assert.equal(header!.indexOf('LABEL'), row!.indexOf(' ci') + 1);

    const revoked = await cli('revoke', key);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked ${id}\n`);
    const again = await cli('revoke', key);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`HERALD_INPUT_INVALID: no key with id ${id} `));

    const mistaken = [
      await cli('list', key),
      await cli('create', key),
      await cli('revoke', id, key),
      await cli('revoke', `hk_nothex_${secret}`),
    ];
    for (const r of mistaken) {
      assert.notEqual(r.code, 0);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), `${r.stdout}${r.stderr}`);
    }
    assert.match(mistaken[0]!.stderr, /hk_… is a key, not a tenant/);
  });
  it("takes npm start's config file (bounce.verp_secret: generate): the key alone on stdout", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-key-'));
    try {
      const file = join(dir, 'my-herald.yaml');
      await writeFile(
        file,
        `redis: { url: "${redis.url}" }\nbounce: { domain: bounces.example.test, verp_secret: generate }\n`,
      );
      const run = captureIo({ env: {} });
      const code = await main(['tenant', 'key', 'create', 'shop', '--config', file], run.io);
      assert.equal(code, 0, run.stderr());
      assert.match(run.stdout(), /^hk_[0-9a-f]{16}_\S+\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
