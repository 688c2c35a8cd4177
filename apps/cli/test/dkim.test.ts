import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigFile } from '@herald/delivery-core';
import { createDkimSigner, loadDkimKeys } from '@herald/delivery-core/auth';
import {
  PYTHON_DKIM,
  skipUnlessPresent,
} from '../../../packages/delivery-core/test/fixtures/dkim/verifiers.js';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-cli-dkim-'));
});
after(() => rm(dir, { recursive: true, force: true }));

interface Keygen {
  code: number;
  stdout: string;
  stderr: string;
}

async function keygen(args: string[]): Promise<Keygen> {
  const run = captureIo();
  const code = await main(['dkim', 'keygen', ...args], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** The TXT record's value from the printed zone line: its quoted strings joined. */
function printedRecord(stdout: string, name: string): { strings: string[]; value: string } {
  const line = stdout.split('\n').find((l) => l.startsWith(`${name}. IN TXT `));
  assert.ok(line, `a TXT line for ${name} in:\n${stdout}`);
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  return { strings, value: strings.join('') };
}

/** The printed dkim: entry, as herald.yaml text. */
function printedConfig(stdout: string): string {
  return stdout.slice(stdout.indexOf('dkim:\n'));
}

describe('herald dkim keygen', () => {
  test('an RSA key: PEM file mode 0600, TXT record in 255-character strings, a config line that loads and signs', async () => {
    const out = join(dir, 'keys');
    const r = await keygen(['sender.test', '--selector', 's1', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(out, 'sender.test.s1.pem');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(await readFile(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(r.stdout, /RSA 2048 bits, rsa-sha256/);

    const { strings, value } = printedRecord(r.stdout, 's1._domainkey.sender.test');
    assert.equal(strings.length, 2, 'a 2048-bit key needs two TXT strings');
    assert.ok(strings.every((s) => s.length <= 255));
    assert.match(value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);

    // The printed entry, in a config file next to the keys folder: key_file is relative to it.
    const configFile = join(dir, 'herald.yaml');
    await writeFile(configFile, printedConfig(r.stdout).replace(out, 'keys'));
    const config = loadConfigFile(configFile);
    assert.equal(config.dkim[0]?.key_file, file);
    const store = loadDkimKeys(config.dkim);
    assert.equal(
      `v=DKIM1; k=rsa; p=${store.keys[0]?.publicKey}`,
      value,
      'the record is the key file’s public half',
    );

    const message = Buffer.from('From: a@sender.test\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n');
    const signed = createDkimSigner(store).sign(message, 'default');
    await test('python3-dkim verifies a signature made with it against the printed record', {
      skip: skipUnlessPresent(PYTHON_DKIM),
    }, async () => {
      const keysFile = join(dir, 'keys.txt');
      await writeFile(keysFile, `s1._domainkey.sender.test ${value}\n`);
      const results = await PYTHON_DKIM.verify(signed, keysFile, dir);
      assert.equal(results.get('sender.test/s1')?.result, 'pass');
    });
  });

  test('an Ed25519 key: k=ed25519 and the raw 32-byte public key (RFC 8463)', async () => {
    const r = await keygen(['Sender.Test.', '--selector', 'e1', '--type', 'ed25519', '--out', dir]);
    assert.equal(r.code, 0, r.stderr);
    const { strings, value } = printedRecord(r.stdout, 'e1._domainkey.sender.test');
    assert.equal(strings.length, 1);
    const p = /^v=DKIM1; k=ed25519; p=(\S+)$/.exec(value)?.[1];
    assert.equal(Buffer.from(p ?? '', 'base64').length, 32);
    assert.match(r.stdout, /key_file: ".*sender\.test\.e1\.pem" \}/);
  });

  test('an existing key file is never overwritten (exit 1)', async () => {
    const first = await keygen(['sender.test', '--selector', 'keep', '--type', 'ed25519', '--out', dir]);
    assert.equal(first.code, 0, first.stderr);
    const file = join(dir, 'sender.test.keep.pem');
    const before = await readFile(file, 'utf8');
    const again = await keygen(['sender.test', '--selector', 'keep', '--type', 'ed25519', '--out', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists; not overwritten/);
    assert.equal(await readFile(file, 'utf8'), before);
    assert.equal(again.stdout, '');
  });

  test('bad command lines are usage errors (exit 2) and write nothing', async () => {
    for (const [args, problem] of [
      [['sender.test'], /missing --selector/],
      [['--selector', 's1'], /missing DOMAIN/],
      [['not a domain', '--selector', 's1'], /not a domain name/],
      [['sender.test', '--selector', 'bad/sel'], /not a selector/],
      [['sender.test', '--selector', 's1', '--bits', '512'], /--bits must be from 1024 to 4096/],
      [['sender.test', '--selector', 's1', '--type', 'ec'], /--type must be rsa or ed25519/],
      [['sender.test', '--selector', 's1', '--type', 'ed25519', '--bits', '2048'], /RSA keys only/],
    ] as const) {
      const r = await keygen([...args, '--out', join(dir, 'never')]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, problem);
    }
    await assert.rejects(stat(join(dir, 'never')), { code: 'ENOENT' });
    const run = captureIo();
    assert.equal(await main(['dkim', 'rotate'], run.io), 2);
    assert.match(run.stderr(), /unknown action "rotate"/);
  });
});
