import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHerald, HeraldError } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { createBounceProcessor, runBounceProcessor } from '../src/index.js';

describe('bounce-processor start-up', () => {
  let redis: RedisHandle;
  let dir: string;
  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'herald-bp-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await redis.stop();
  });

  it('refuses a Herald whose config has no bounce section', async () => {
    const herald = await createHerald({ redis: { url: redis.url } });
    try {
      assert.throws(
        () => createBounceProcessor(herald),
        (err: unknown) =>
          err instanceof HeraldError && err.code === 'HERALD_CONFIG_INVALID' && /bounce/.test(err.message),
      );
    } finally {
      await herald.close();
    }
  });

  it('the daemon exits 1 naming the missing section or the bad key', async () => {
    const noBounce = join(dir, 'no-bounce.yaml');
    await writeFile(noBounce, `redis: { url: "${redis.url}" }\n`);
    let stderr = '';
    const capture = { write: (text: string) => (stderr += text) };
    assert.equal(await runBounceProcessor({ config: noBounce, env: {}, stderr: capture }), 1);
    assert.match(
      stderr,
      /^herald: HERALD_CONFIG_INVALID: .*no-bounce\.yaml: bounce: missing \(the bounce-processor needs bounce\.domain and bounce\.verp_secret; bounce\.listen defaults to 127\.0\.0\.1:2600\)\n$/,
      'names only what has no default',
    );
    stderr = '';
    const badKey = join(dir, 'bad.yaml');
    await writeFile(badKey, 'bounce: { domain: "b.test", verp_secret: "s", lissen: "127.0.0.1:1" }\n');
    assert.equal(await runBounceProcessor({ config: badKey, env: {}, stderr: capture }), 1);
    assert.match(
      stderr,
      /^herald: HERALD_CONFIG_INVALID: .*bad\.yaml: bounce\.lissen: unknown key .*did you mean listen\?$/m,
    );
  });

  it('an address in use exits 1 naming its key (bounce.listen, bounce.http_listen)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    try {
      for (const [key, bounce] of [
        ['bounce.listen', `listen: "${address}", http_listen: "127.0.0.1:0"`],
        ['bounce.http_listen', `listen: "127.0.0.1:0", http_listen: "${address}"`],
      ] as const) {
        const file = join(dir, 'taken.yaml');
        await writeFile(
          file,
          `redis: { url: "${redis.url}" }\nevents: { log_level: silent }\nbounce: { domain: "b.test", verp_secret: "0123456789abcdef0123", ${bounce} }\n`,
        );
        let stderr = '';
        const capture = { write: (text: string) => (stderr += text) };
        assert.equal(await runBounceProcessor({ config: file, env: {}, stderr: capture }), 1, key);
        assert.equal(
          stderr,
          `herald: HERALD_LISTEN_FAILED: cannot start the bounce-processor: ${key}: address ${address} already in use\n`,
        );
      }
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
