import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, verifyPassword } from '@herald/delivery-core';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

async function hashOf(stdin: string, args: string[] = []): Promise<string> {
  const run = captureIo({ stdin });
  assert.equal(await main(['hash-password', ...args], run.io), 0, run.stderr());
  const lines = run.stdout().split('\n');
  assert.equal(lines.length, 2, 'exactly one line of output');
  return lines[0]!;
}

describe('herald hash-password', () => {
  test('hashes the first line of piped stdin into a hash verifyPassword accepts', async () => {
    const hash = await hashOf('correct horse battery staple\nignored second line\n');
    assert.match(hash, /^scrypt\$16384\$8\$1\$/);
    assert.equal(await verifyPassword('correct horse battery staple', hash), true);
    assert.equal(await verifyPassword('ignored second line', hash), false);
  });

  test('--password-stdin strips only the line terminator (CRLF, spaces kept)', async () => {
    const hash = await hashOf(' spaced pass \r\n', ['--password-stdin']);
    assert.equal(await verifyPassword(' spaced pass ', hash), true);
  });

  test('a password without a trailing newline is read up to end of input', async () => {
    const hash = await hashOf('no-newline');
    assert.equal(await verifyPassword('no-newline', hash), true);
  });

  test('the output is accepted as password_hash in the config', async () => {
    const hash = await hashOf('s3cret\n');
    const config = parseConfig({ smtp: { users: [{ username: 'app', password_hash: hash }] } });
    assert.equal(config.smtp.users[0]?.password_hash, hash);
  });

  test('an empty first line is refused with exit 1 and nothing on stdout', async () => {
    const run = captureIo({ stdin: '\n' });
    assert.equal(await main(['hash-password'], run.io), 1);
    assert.equal(run.stdout(), '');
    assert.match(run.stderr(), /^herald: HERALD_INPUT_INVALID: hash-password: no password on stdin/);
  });
});
