import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { createDkimSigner, loadDkimKeys } from '../src/auth/index.js';
import { ConfigError, defaultConfig } from '../src/config/index.js';

describe('DKIM keys given inline (private_key)', () => {
  it('an inline PEM key loads and signs like a key file', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const config = defaultConfig({ dkim: [{ domain: 'sender.test', selector: 's1', private_key: pem }] });
    const store = loadDkimKeys(config.dkim);
    const [key] = store.select({ fromDomain: 'sender.test', tenant: 'default', now: Date.now() });
    assert.equal(key?.algorithm, 'ed25519-sha256');
    assert.equal(key?.keyFile, 'the inline key');
    const signed = createDkimSigner(store).sign(
      Buffer.from('From: a@sender.test\r\nSubject: x\r\n\r\nbody\r\n'),
      'default',
    );
    assert.match(signed.toString(), /^DKIM-Signature: v=1; a=ed25519-sha256;.*d=sender\.test; s=s1;/s);
  });

  it('a bad inline key fails the start naming dkim[i].private_key', () => {
    const config = defaultConfig({
      dkim: [{ domain: 'sender.test', selector: 's1', private_key: 'not a key' }],
    });
    assert.throws(
      () => loadDkimKeys(config.dkim),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.some((i) => i.path === 'dkim[0].private_key'),
    );
  });
});
