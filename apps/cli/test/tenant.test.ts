/**
 * `herald tenant status|pause|resume`: the status reads `herald.tenantStatus` (counts and rates
 * over the tenant's window against its thresholds, its bulk pause); pause and resume change it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald tenant', () => {
  let redis: RedisHandle;
  let herald: Herald;
  before(async () => {
    redis = await startRedis();
    herald = await createHerald({ redis: { url: redis.url }, events: { log_level: 'silent' } });
  });
  after(async () => {
    await herald.close();
    await redis.stop();
  });

  const run = async (...argv: string[]) => {
    const out = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['tenant', ...argv], out.io), 0, out.stderr());
    return out.stdout();
  };

  it('shows accepted recipients over the window, the rates against the thresholds and the pause', async () => {
    await herald.send({
      from: 'a@origin.test',
      tenant: 'acme',
      to: ['x@one.test', 'y@two.test'],
      subject: 's',
      text: 't',
    });
    const sending = await run('status', 'acme');
    assert.match(sending, /^tenant: +acme$/m);
    assert.match(sending, /^window: +24 h \(judged from \d+ recipients\)$/m);
    assert.match(sending, /^accepted: +2 recipients$/m);
    assert.match(sending, /^hard: +0 \(0\.000 %; threshold [\d.]+ %\)$/m);
    assert.match(sending, /^bulk: +sending$/m);

    assert.match(await run('pause', 'acme', '--reason', 'by test'), /acme: bulk mail paused/);
    assert.match(await run('status', 'acme'), /^bulk: +paused since \S+: by test$/m);
    assert.match(await run('resume', 'acme'), /acme: resumed/);
    assert.match(await run('status', 'acme'), /^bulk: +sending$/m);
  });

  it('shows a pause reason read from Redis with its control characters escaped', async () => {
    await run('pause', 'globex', '--reason', 'x\u001b]0;PWNED\u0007\u001b[2J');
    const status = await run('status', 'globex');
    assert.doesNotMatch(status, /\u001b/);
    assert.match(status, /^bulk: +paused since \S+: x\\x1b\]0;PWNED\\x07\\x1b\[2J$/m);
    await run('resume', 'globex');
  });

  it('refuses a name no tenant can have, before reading Redis', async () => {
    for (const action of ['status', 'pause', 'resume']) {
      const out = captureIo({ env: { REDIS_URL: redis.url } });
      assert.equal(await main(['tenant', action, 'acme corp'], out.io), 1, action);
      assert.equal(
        out.stderr(),
        'herald: HERALD_INPUT_INVALID: no tenant can be named "acme corp" (letters, digits and _ . -, starting with a letter or digit)\n',
      );
      assert.equal(out.stdout(), '');
    }
  });
});
