import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashPassword, isPasswordHash, verifyPassword } from '../src/passwords/index.js';

describe('hashPassword', () => {
  test('produces scrypt$16384$8$1$<16-byte salt>$<32-byte key>', async () => {
    const stored = await hashPassword('secret');
    const parts = stored.split('$');
    assert.deepEqual(parts.slice(0, 4), ['scrypt', '16384', '8', '1']);
    assert.equal(Buffer.from(parts[4]!, 'base64').length, 16);
    assert.equal(Buffer.from(parts[5]!, 'base64').length, 32);
    assert.ok(isPasswordHash(stored));
  });

  test('salts each hash differently', async () => {
    assert.notEqual(await hashPassword('secret'), await hashPassword('secret'));
  });
});

describe('verifyPassword', () => {
  test('accepts the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse');
    assert.equal(await verifyPassword('correct horse', stored), true);
    assert.equal(await verifyPassword('correct horsE', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  test('handles non-ASCII passwords', async () => {
    const stored = await hashPassword('pässwörd-密码');
    assert.equal(await verifyPassword('pässwörd-密码', stored), true);
  });

  test('returns false, never throws, for malformed stored strings', async () => {
    const good = (await hashPassword('x')).split('$');
    const variants = [
      '',
      'hunter2',
      'bcrypt$16384$8$1$a$b',
      good.slice(0, 5).join('$'),
      [...good.slice(0, 5), '!!notbase64'].join('$'),
      ['scrypt', '16385', ...good.slice(2)].join('$'),
      ['scrypt', '1048576', '64', ...good.slice(3)].join('$'),
      ['scrypt', '16384', '8', '1', 'c2FsdA==', good[5]].join('$'),
      ['scrypt', '16384', '8', '1', good[4], 'c2hvcnQ='].join('$'),
      ['scrypt', '-1', ...good.slice(2)].join('$'),
    ];
    for (const stored of variants) {
      assert.equal(isPasswordHash(stored), false, stored);
      assert.equal(await verifyPassword('x', stored), false, stored);
    }
    assert.equal(await verifyPassword('x', undefined as unknown as string), false);
  });
});
