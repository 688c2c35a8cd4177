/**
 * The `api` section: absent = off, defaults with units, admin keys as key_hash or key — both
 * secrets, never echoed in a config error — and the rate checked at load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig, secretsIn } from '../src/config/index.js';

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input, { source: 'herald.yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('api config', () => {
  test('absent: no API; present: every default with its unit', () => {
    assert.equal(parseConfig({}).api, undefined);
    const api = parseConfig({ api: {}, smtp: { max_message_size: '1MiB' } }).api;
    assert.deepEqual(api, {
      listen: '127.0.0.1:8080',
      admin_keys: [],
      rate_limit: '200/s',
      rate_burst: 50,
      idempotency_ttl: 24 * 3_600_000,
      redis_timeout: 3_000,
      auth_failure_limit: 20,
      auth_failure_window: 15 * 60_000,
      block_time: 15 * 60_000,
      max_connections: 512,
      max_connections_per_client: 32,
      header_timeout: 10_000,
      request_timeout: 60_000,
    });
  });

  test('a plain admin key too short is refused without echoing it', () => {
    const err = configError({ api: { admin_keys: [{ key: 'short-secret' }] } });
    assert.match(err.message, /api\.admin_keys\[0\]/);
    assert.doesNotMatch(err.message, /short-secret/);
  });

  test('a key_hash that is no scrypt hash is refused without echoing it, and the key never shows in another error', () => {
    const err = configError({
      api: {
        admin_keys: [{ key_hash: 'not-a-hash-hunter2' }, { key: 'a-long-admin-key-value-42' }],
        listen: 'nowhere',
      },
    });
    assert.doesNotMatch(err.message, /hunter2|a-long-admin-key-value-42/);
    assert.deepEqual(secretsIn({ api: { admin_keys: [{ key: 'a-long-admin-key-value-42' }] } }), [
      'a-long-admin-key-value-42',
    ]);
  });

  test('an unknown key in an admin key and a malformed rate are refused', () => {
    assert.match(
      configError({ api: { admin_keys: [{ key: 'x'.repeat(20), role: 'root' }] } }).message,
      /admin_keys\[0\]/,
    );
    assert.match(configError({ api: { rate_limit: 'fast' } }).message, /api\.rate_limit: expected a rate/);
  });
});
