/**
 * Herald's DKIM signatures checked by independent implementations (python3-dkim, Mail::DKIM,
 * OpenDKIM, and mailauth through Herald's verifyDkim) over every body case, for rsa-sha256 (2048)
 * and ed25519-sha256 signatures of the author domain plus a platform (always) signature; and
 * python3-dkim's signatures checked by Herald. Keys are made fresh in a temp folder; public keys
 * come from a keys file (external verifiers) or a loopback DNS server (Herald), never real DNS.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DnsServerHandle, startDnsServer } from '@herald/test-harness';
import {
  createDkimSigner,
  type DkimKeyStore,
  dkimDnsRecord,
  loadDkimKeys,
  verifyDkim,
} from '../src/auth/index.js';
import { createResolver, type Resolver } from '../src/dns/index.js';
import { BODY_CASES } from './fixtures/dkim/messages.js';
import {
  PYTHON_DKIM,
  type Results,
  signWithPythonDkim,
  skipUnlessPresent,
  VERIFIERS,
  type Verifier,
} from './fixtures/dkim/verifiers.js';

const SIGNATURES = [
  { label: 'rsa-sha256 2048 (author)', domain: 'sender.test', selector: 's1', type: 'rsa' },
  { label: 'ed25519-sha256 (author)', domain: 'sender.test', selector: 'e1', type: 'ed25519' },
  { label: 'rsa-sha256 2048 (platform, always)', domain: 'platform.test', selector: 'p1', type: 'rsa' },
] as const;

/** Mail::DKIM in Debian 12 (1.20230212) has rsa-sha1/rsa-sha256 only (no Algorithm/ed25519). */
const MAIL_DKIM_NO_ED25519 =
  'Mail::DKIM 1.20230212 (Debian 12) has no ed25519-sha256: it answers "unsupported algorithm"';
/**
 * mailauth 4.13 canonicalises header values with JavaScript's \s, which takes the byte 0xA0 (the
 * tail of UTF-8 "à") as whitespace: a raw 8-bit header with it fails there, passes elsewhere.
 */
const MAILAUTH_8BIT_HEADER = 'mailauth 4.13 folds byte 0xA0 in a raw 8-bit header as whitespace (its bug)';

let dir: string;
let keysFile: string;
let store: DkimKeyStore;
let dns: DnsServerHandle;
let resolver: Resolver;
const keyFiles = new Map<string, string>();
const cache = new Map<string, Promise<Results>>();

function keyPem(type: 'rsa' | 'ed25519'): string {
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const signed = new Map<string, Buffer>();
function signedCase(name: string): Buffer {
  const cached = signed.get(name);
  if (cached) return cached;
  const body = BODY_CASES.find((c) => c.name === name)!.message;
  const out = createDkimSigner(store).sign(body, 'tenant1');
  signed.set(name, out);
  return out;
}

function verified(verifier: Verifier, caseName: string): Promise<Results> {
  const key = `${verifier.name}|${caseName}`;
  let results = cache.get(key);
  if (!results) {
    results = verifier.verify(signedCase(caseName), keysFile, dir);
    cache.set(key, results);
  }
  return results;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-dkim-interop-'));
  for (const s of SIGNATURES) {
    const file = join(dir, `${s.domain}.${s.selector}.pem`);
    await writeFile(file, keyPem(s.type), { mode: 0o600 });
    keyFiles.set(s.selector, file);
  }
  store = loadDkimKeys(
    SIGNATURES.map((s) => ({
      domain: s.domain,
      selector: s.selector,
      key_file: keyFiles.get(s.selector)!,
      always: s.domain === 'platform.test',
    })),
  );
  const records = store.keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, dkimDnsRecord(k)] as const);
  keysFile = join(dir, 'keys.txt');
  await writeFile(keysFile, records.map(([name, txt]) => `${name} ${txt}\n`).join(''));
  dns = await startDnsServer({
    zone: Object.fromEntries(records.map(([name, txt]) => [name, { TXT: [txt] }])),
  });
  resolver = createResolver({ servers: [dns.address] });
});

after(async () => {
  await resolver?.close();
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const verifier of VERIFIERS) {
  describe(`Herald's signatures verify with ${verifier.name}`, () => {
    const skip = skipUnlessPresent(verifier);
    for (const { name } of BODY_CASES) {
      for (const s of SIGNATURES) {
        const unsupported = verifier.name === 'Mail::DKIM' && s.type === 'ed25519';
        const title = unsupported
          ? `${name} · ${s.label}: skipped, ${MAIL_DKIM_NO_ED25519}`
          : `${name} · ${s.label}`;
        test(title, { skip: skip || (unsupported ? MAIL_DKIM_NO_ED25519 : false) }, async () => {
          const result = (await verified(verifier, name)).get(`${s.domain}/${s.selector}`);
          assert.equal(result?.result, 'pass', `${verifier.name}: ${JSON.stringify(result)}`);
        });
      }
    }
    test('a body changed after signing fails every signature', { skip }, async () => {
      const altered = Buffer.from(
        signedCase('CRLF text').toString('latin1').replace('March is', 'April is'),
        'latin1',
      );
      const results = await verifier.verify(altered, keysFile, dir);
      assert.equal(results.size, SIGNATURES.length);
      for (const [which, r] of results) assert.notEqual(r.result, 'pass', `${which} passed an altered body`);
    });
    test('a second From added on top fails (From is over-signed)', { skip }, async () => {
      const added = Buffer.concat([Buffer.from('From: mallory@evil.test\r\n'), signedCase('CRLF text')]);
      const results = await verifier.verify(added, keysFile, dir);
      assert.ok(results.size > 0, 'the verifier reported the signatures');
      for (const [which, r] of results) assert.notEqual(r.result, 'pass', `${which} passed an added From`);
    });
  });
}

describe('Mail::DKIM and ed25519', () => {
  test('Mail::DKIM reports the ed25519 signature as an unsupported algorithm (why it is skipped)', {
    skip: skipUnlessPresent(VERIFIERS[1]!),
  }, async () => {
    const result = (await verified(VERIFIERS[1]!, 'CRLF text')).get('sender.test/e1');
    if (result?.result === 'pass') return; // a newer Mail::DKIM: then it verifies like the others
    assert.match(result?.detail ?? '', /unsupported algorithm ed25519-sha256/);
  });
});

describe("Herald's signatures verify with mailauth (Herald's verifyDkim over loopback DNS)", () => {
  for (const { name } of BODY_CASES) {
    const eightBitHeader = name.startsWith('8-bit');
    test(
      eightBitHeader
        ? `${name}: rsa and ed25519 fail, ${MAILAUTH_8BIT_HEADER}`
        : `${name}: every signature passes`,
      async () => {
        const results = await verifyDkim(signedCase(name), { resolver });
        assert.equal(results.length, SIGNATURES.length);
        for (const r of results)
          assert.equal(
            r.result,
            eightBitHeader ? 'fail' : 'pass',
            `${r.selector}._domainkey.${r.domain}: ${r.comment}`,
          );
      },
    );
  }
});

describe('Herald verifies signatures made by python3-dkim', () => {
  const skip = skipUnlessPresent(PYTHON_DKIM);
  for (const { name, message } of BODY_CASES) {
    for (const s of SIGNATURES.slice(0, 2)) {
      const eightBitHeader = name.startsWith('8-bit');
      const title = `${name} · ${s.label}${eightBitHeader ? `: fails, ${MAILAUTH_8BIT_HEADER}` : ''}`;
      test(title, { skip }, async () => {
        const pySigned = await signWithPythonDkim(message, {
          domain: s.domain,
          selector: s.selector,
          keyFile: keyFiles.get(s.selector)!,
          algorithm: s.type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
        });
        const results = await verifyDkim(pySigned, { resolver });
        assert.equal(results.length, 1);
        assert.equal(results[0]?.result, eightBitHeader ? 'fail' : 'pass', results[0]?.comment);
        assert.equal(results[0]?.algorithm, s.type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256');
      });
    }
  }
});
