import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import {
  BOUNCE_PROCESSOR_LIVE_PATHS,
  CONFIG_HASH_HEX_CHARS,
  configHash,
  LIVE_PATHS,
  planReload,
} from '@herald/delivery-core/reload';

const SECRET = 'a-password-that-must-never-show';

describe('planReload', () => {
  test('live sections are taken from the new file; other changes are named as needing a restart and keep their running value', () => {
    const running = defaultConfig({
      smtp: { listen: '127.0.0.1:2525', users: [{ username: 'alice', password: 'old-password-1' }] },
      queue: { shards: 1 },
    });
    const next = defaultConfig({
      smtp: { listen: '127.0.0.1:2626', users: [{ username: 'bob', password: SECRET }] },
      queue: { shards: 4 },
      routes: [{ match: 'example.test', via: '127.0.0.2:25' }],
      tenants: { acme: { sender_domains: ['acme.test'] } },
    });
    const plan = planReload(running, next);
    assert.deepEqual(plan.applied, ['tenants', 'smtp.users', 'routes']);
    assert.deepEqual(plan.needsRestart, ['queue.shards', 'smtp.listen']);
    assert.equal(plan.effective.smtp.listen, '127.0.0.1:2525', 'the running listener is kept');
    assert.equal(plan.effective.queue.shards, 1);
    assert.deepEqual(
      plan.effective.smtp.users.map((u) => u.username),
      ['bob'],
    );
    assert.equal(plan.effective.routes.length, 1);
    assert.ok(Object.isFrozen(plan.effective) && Object.isFrozen(plan.effective.smtp.users));
    assert.ok(!JSON.stringify(plan.needsRestart).includes(SECRET), 'paths only, never values');
  });

  test('the bounce-processor takes the VERP keys and complaint address live; a relay keeps them until a restart', () => {
    const bounce = { domain: 'bounces.test', verp_secret: 'the-first-verp-secret-0123' };
    const running = defaultConfig({ bounce });
    const next = defaultConfig({
      bounce: {
        ...bounce,
        listen: '127.0.0.1:2700',
        verp_secret: 'the-second-verp-secret-0123',
        verp_previous_secrets: [bounce.verp_secret],
        complaint_address: 'fbl@bounces.test',
      },
    });
    const relay = planReload(running, next);
    assert.deepEqual(relay.applied, []);
    assert.equal(relay.effective.bounce?.verp_secret, bounce.verp_secret);
    assert.ok(relay.needsRestart.includes('bounce.verp_secret'));
    const processor = planReload(running, next, BOUNCE_PROCESSOR_LIVE_PATHS);
    assert.deepEqual(processor.applied, [
      'bounce.verp_secret',
      'bounce.verp_previous_secrets',
      'bounce.complaint_address',
    ]);
    assert.deepEqual(processor.needsRestart, ['bounce.listen']);
    assert.equal(processor.effective.bounce?.verp_secret, 'the-second-verp-secret-0123');
    assert.equal(processor.effective.bounce?.listen, '127.0.0.1:2600', 'the running listener is kept');
    // A running config without a bounce section gets none from one of its keys.
    assert.equal(
      planReload(defaultConfig({}), next, BOUNCE_PROCESSOR_LIVE_PATHS).effective.bounce,
      undefined,
    );
  });

  test('an unchanged file applies nothing and needs no restart', () => {
    const config = defaultConfig({ routes: [{ match: 'x.test', via: '127.0.0.2:25' }] });
    const plan = planReload(config, defaultConfig({ routes: [{ match: 'x.test', via: '127.0.0.2:25' }] }));
    assert.deepEqual(plan.applied, []);
    assert.deepEqual(plan.needsRestart, []);
  });

  test('LIVE_PATHS is the documented set', () => {
    assert.deepEqual([...LIVE_PATHS], ['shaping', 'tenants', 'dkim', 'smtp.users', 'routes']);
  });
});

describe('configHash', () => {
  test('a rotated password changes the version, though no password is hashed as it is', () => {
    const withPassword = (password: string) =>
      defaultConfig({ smtp: { users: [{ username: 'alice', password }] } });
    const shaping = {};
    const a = configHash({ config: withPassword('first-password-1'), shaping, dkimPublicKeys: [] });
    const b = configHash({ config: withPassword('second-password-2'), shaping, dkimPublicKeys: [] });
    assert.notEqual(a, b);
    assert.equal(a, configHash({ config: withPassword('first-password-1'), shaping, dkimPublicKeys: [] }));
  });

  const config = defaultConfig({});
  test('equal inputs hash equally, whatever the key order; any file change changes it', () => {
    const a = configHash({ config, shaping: { defaults: { a: 1, b: 2 } }, dkimPublicKeys: ['k1'] });
    const b = configHash({ config, shaping: { defaults: { b: 2, a: 1 } }, dkimPublicKeys: ['k1'] });
    assert.equal(a, b);
    assert.equal(a.length, CONFIG_HASH_HEX_CHARS);
    assert.match(a, /^[0-9a-f]+$/);
    assert.notEqual(a, configHash({ config, shaping: { defaults: { a: 1, b: 3 } }, dkimPublicKeys: ['k1'] }));
    assert.notEqual(a, configHash({ config, shaping: { defaults: { a: 1, b: 2 } }, dkimPublicKeys: ['k2'] }));
    assert.notEqual(
      a,
      configHash({
        config: defaultConfig({ routes: [{ match: 'x.test', via: '127.0.0.2:25' }] }),
        shaping: { defaults: { a: 1, b: 2 } },
        dkimPublicKeys: ['k1'],
      }),
    );
  });
});
