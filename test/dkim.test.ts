/**
 * End to end: DKIM signing at intake. A relay with an author key for sender.test and a platform
 * key (`always: true`) for platform.test, keys made in the test's folder, public keys served by
 * the loopback DNS. What reaches the sink verifies with mailauth (Herald's verifyDkim over that
 * DNS) and with python3-dkim: mail from a@sender.test carries both signatures, mail from another
 * domain only the platform's; a bare-LF message given to send() is signed as it goes on the wire.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dkimDnsRecord, readDkimKey, verifyDkim } from '@herald/delivery-core/auth';
import { createResolver } from '@herald/delivery-core/dns';
import { PYTHON_DKIM, skipUnlessPresent } from '../packages/delivery-core/test/fixtures/dkim/verifiers.js';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';

const KEYS = [
  { domain: 'sender.test', selector: 's1', type: 'rsa', always: false },
  { domain: 'platform.test', selector: 'p1', type: 'ed25519', always: true },
] as const;

function pem(type: 'rsa' | 'ed25519'): string {
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function signers(raw: Buffer): string[] {
  const head = raw.toString('latin1').split(/\r\n\r\n/)[0] ?? '';
  return [...head.matchAll(/^DKIM-Signature:[\s\S]*?\bd=([^;]+);[\s\S]*?\bs=([^;]+);/gm)].map(
    (m) => `${m[2]}._domainkey.${m[1]}`,
  );
}

describe('DKIM signing at intake', () => {
  it('signs mail from the key’s domain with it, every mail with the platform key, and both verify', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-e2e-dkim-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const zone = mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]);
    const keyLines: string[] = [];
    const dkim = [];
    for (const k of KEYS) {
      const file = join(dir, `${k.domain}.${k.selector}.pem`);
      const text = pem(k.type);
      await writeFile(file, text, { mode: 0o600 });
      const name = `${k.selector}._domainkey.${k.domain}`;
      const record = dkimDnsRecord(readDkimKey(text));
      zone[name] = { TXT: [record] };
      keyLines.push(`${name} ${record}\n`);
      dkim.push({ domain: k.domain, selector: k.selector, key_file: file, always: k.always });
    }
    const keysFile = join(dir, 'keys.txt');
    await writeFile(keysFile, keyLines.join(''));

    const stack = await startStack({ zone, config: { dkim } });
    t.after(() => stack.stop());
    const resolver = createResolver({ servers: [stack.dns.address] });
    t.after(() => resolver.close());

    const author = await stack.submit({
      from: 'a@sender.test',
      to: ['one@example.test'],
      body: sampleMessage({ subject: 'signed twice', headers: [] })
        .toString('latin1')
        .replace('From: Sender <sender@origin.test>', 'From: Alice <a@sender.test>'),
    });
    assert.equal(author.code, 250, author.response);
    const other = await stack.submit({
      from: 'sender@origin.test',
      to: ['two@example.test'],
      body: sampleMessage({ subject: 'platform only' }),
    });
    assert.equal(other.code, 250, other.response);
    await stack.relay.herald.send({
      from: 'a@sender.test',
      to: 'three@example.test',
      raw: 'From: a@sender.test\nTo: three@example.test\nSubject: bare LF\n\nline one  \n\tline two\n\n',
    });

    const messages = await stack.sinks[0]!.waitForMessages(3);
    const byRcpt = (rcpt: string) => messages.find((m) => m.to[0] === rcpt)!.raw;
    const expected = {
      'one@example.test': ['s1._domainkey.sender.test', 'p1._domainkey.platform.test'],
      'two@example.test': ['p1._domainkey.platform.test'],
      'three@example.test': ['s1._domainkey.sender.test', 'p1._domainkey.platform.test'],
    };
    for (const [rcpt, keys] of Object.entries(expected)) {
      const raw = byRcpt(rcpt);
      assert.deepEqual(signers(raw).sort(), [...keys].sort(), `signatures on the mail to ${rcpt}`);
      assert.doesNotMatch(raw.toString('latin1'), /[^\r]\n/, 'the sink received CRLF line ends only');
      const results = await verifyDkim(raw, { resolver });
      assert.deepEqual(
        results.map((r) => `${r.selector}._domainkey.${r.domain} ${r.result}`).sort(),
        keys.map((k) => `${k} pass`).sort(),
        `mailauth on the mail to ${rcpt}: ${JSON.stringify(results)}`,
      );
    }

    await t.test(
      'python3-dkim verifies what the sink received',
      { skip: skipUnlessPresent(PYTHON_DKIM) },
      async () => {
        for (const [rcpt, keys] of Object.entries(expected)) {
          const results = await PYTHON_DKIM.verify(byRcpt(rcpt), keysFile, dir);
          for (const key of keys) {
            const [selector, domain] = key.split('._domainkey.');
            assert.equal(results.get(`${domain}/${selector}`)?.result, 'pass', `${rcpt}: ${key}`);
          }
        }
      },
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
