import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  authorDomain,
  createDkimSigner,
  type DkimKey,
  type DkimKeyEntry,
  DkimKeyStore,
  dkimSignatureFields,
  loadDkimKeys,
  relaxedBody,
  relaxedBodyHash,
  relaxedHeader,
  signedHeaderNames,
  splitMessage,
} from '../src/auth/index.js';
import { ConfigError } from '../src/config/index.js';
import { createHerald } from '../src/herald.js';

let dir: string;
const files: Record<string, string> = {};

function pem(type: 'rsa' | 'ed25519' | 'ec', bits = 2048): string {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-dkim-unit-'));
  const made = {
    rsa2048: pem('rsa'),
    rsa1024: pem('rsa', 1024),
    rsa512: pem('rsa', 512),
    ed: pem('ed25519'),
    ec: pem('ec'),
  };
  for (const [name, text] of Object.entries(made)) {
    files[name] = join(dir, `${name}.pem`);
    await writeFile(files[name], text);
  }
  files.garbage = join(dir, 'garbage.pem');
  await writeFile(files.garbage, 'not a key\n');
});
after(() => rm(dir, { recursive: true, force: true }));

function entry(
  domain: string,
  selector: string,
  file: string,
  extra: Partial<DkimKeyEntry> = {},
): DkimKeyEntry {
  return { domain, selector, key_file: file, always: false, ...extra };
}

const T = Date.parse('2026-12-01T00:00:00Z');
const DAY_MS = 86_400_000;

function chosen(store: DkimKeyStore, fromDomain: string | undefined, tenant = 'default', now = T): string[] {
  return store
    .select({ fromDomain, tenant, now })
    .map((k) => `${k.selector}@${k.domain}`)
    .sort();
}

describe('DKIM key store', () => {
  test('reads RSA and Ed25519 keys and takes the algorithm from the key', () => {
    const store = loadDkimKeys([
      entry('sender.test', 'r1', files.rsa2048!),
      entry('Sender.Test', 'e1', files.ed!),
    ]);
    const [rsa, ed] = store.keys;
    assert.equal(rsa?.algorithm, 'rsa-sha256');
    assert.equal(rsa?.bits, 2048);
    assert.equal(ed?.algorithm, 'ed25519-sha256');
    assert.equal(ed?.domain, 'sender.test');
    assert.equal(Buffer.from(ed?.publicKey ?? '', 'base64').length, 32);
  });

  test('a 1024-bit RSA key works with a warning naming its path', () => {
    const warnings: string[] = [];
    const store = loadDkimKeys([entry('sender.test', 's1', files.rsa1024!)], {
      warn: (m) => warnings.push(m),
    });
    assert.equal(store.size, 1);
    assert.deepEqual(warnings, ['dkim[0].key_file: RSA key of 1024 bits; use 2048 bits or more']);
  });

  test('missing, foreign, non-DKIM and too small keys fail the start together, each with its path', () => {
    assert.throws(
      () =>
        loadDkimKeys([
          entry('sender.test', 'ok', files.rsa2048!),
          entry('sender.test', 'gone', join(dir, 'missing.pem')),
          entry('sender.test', 'junk', files.garbage!),
          entry('sender.test', 'ec', files.ec!),
          entry('sender.test', 'small', files.rsa512!),
        ]),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'HERALD_CONFIG_INVALID');
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ['dkim[1].key_file', 'dkim[2].key_file', 'dkim[3].key_file', 'dkim[4].key_file'],
        );
        const [gone, junk, ec, small] = err.issues.map((i) => i.message);
        assert.match(gone!, /cannot read .*missing\.pem \(ENOENT\)/);
        assert.match(junk!, /not a PEM private key/);
        assert.match(ec!, /a ec key cannot sign DKIM \(expected RSA or Ed25519\)/);
        assert.match(small!, /RSA key of 512 bits is too small \(at least 1024\)/);
        return true;
      },
    );
  });

  test('createHerald fails on a bad key before it connects to Redis', async () => {
    await assert.rejects(
      createHerald({
        redis: { url: 'redis://127.0.0.1:1' },
        dkim: [{ domain: 'sender.test', selector: 's1', key_file: join(dir, 'missing.pem') }],
      }),
      (err: unknown) => err instanceof ConfigError && /^dkim\[0\]\.key_file: cannot read/.test(err.message),
    );
  });

  test('a key signs mail from its domain and subdomains only; an always key signs any mail', () => {
    const store = loadDkimKeys([
      entry('sender.test', 's1', files.rsa2048!),
      entry('platform.test', 'p1', files.ed!, { always: true }),
    ]);
    assert.deepEqual(chosen(store, 'sender.test'), ['p1@platform.test', 's1@sender.test']);
    assert.deepEqual(chosen(store, 'news.sender.test'), ['p1@platform.test', 's1@sender.test']);
    assert.deepEqual(chosen(store, 'notsender.test'), ['p1@platform.test']);
    assert.deepEqual(chosen(store, 'other.test'), ['p1@platform.test']);
    assert.deepEqual(chosen(store, undefined), ['p1@platform.test'], 'no From: only the platform signs');
  });

  test("a tenant's key signs only its mail, and before a shared key of the same domain", () => {
    const store = loadDkimKeys([
      entry('sender.test', 'shared', files.rsa2048!),
      entry('sender.test', 't1', files.rsa1024!, { tenant: 'tenant1' }),
    ]);
    assert.deepEqual(chosen(store, 'sender.test', 'tenant1'), ['t1@sender.test']);
    assert.deepEqual(chosen(store, 'sender.test', 'tenant2'), ['shared@sender.test']);
  });

  test('rotation: the newest active selector of a domain signs; a retired one never does', () => {
    const store = loadDkimKeys([
      entry('sender.test', 'old', files.rsa2048!, { retire_at: T + 7 * DAY_MS }),
      entry('sender.test', 'new', files.rsa1024!, { activate_at: T }),
    ]);
    assert.deepEqual(chosen(store, 'sender.test', 'default', T - 1), ['old@sender.test']);
    assert.deepEqual(chosen(store, 'sender.test', 'default', T), ['new@sender.test']);
    assert.deepEqual(chosen(store, 'sender.test', 'default', T + 8 * DAY_MS), ['new@sender.test']);
    const retiredOnly = loadDkimKeys([entry('sender.test', 'old', files.rsa2048!, { retire_at: T })]);
    assert.deepEqual(chosen(retiredOnly, 'sender.test', 'default', T), []);
  });

  test('an RSA and an Ed25519 key of one domain both sign (RFC 8463 dual signing)', () => {
    const store = loadDkimKeys([
      entry('sender.test', 'r1', files.rsa2048!),
      entry('sender.test', 'e1', files.ed!),
    ]);
    assert.deepEqual(chosen(store, 'sender.test'), ['e1@sender.test', 'r1@sender.test']);
  });
});

describe('DKIM canonicalization and signing', () => {
  test('relaxed canonicalization of RFC 6376 §3.4.5', () => {
    const { fields, body } = splitMessage(
      Buffer.from('A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n'),
    );
    assert.deepEqual(
      fields.map((f) => relaxedHeader(f.raw)),
      ['a:X', 'b:Y Z'],
    );
    assert.equal(relaxedBody(body), ' C\r\nD E\r\n');
    assert.equal(relaxedBody(Buffer.from('\r\n\r\n')), '', 'an empty body hashes as nothing');
  });

  test('the body hash, block by block, equals the hash of the whole relaxed body (fuzzed)', () => {
    const piece = fc.constantFrom('a', ' ', '\t', '  ', '\r\n', '\n', '\r', '\r\n\r\n', '\u00a0', 'line\r\n');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (pieces, block) => {
        const body = Buffer.from(pieces.join(''), 'latin1');
        const whole = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64');
        assert.equal(relaxedBodyHash(body, block), whole, JSON.stringify(pieces.join('')));
        assert.equal(relaxedBodyHash(body), whole);
      }),
      { seed: 20261203, numRuns: 500 },
    );
  });

  test('only SP and HTAB are whitespace: 8-bit bytes such as 0xA0 stay as they are', () => {
    const subject = Buffer.from('Subject: à  bientôt ', 'utf8').toString('latin1');
    assert.equal(relaxedHeader(subject), Buffer.from('subject:à bientôt', 'utf8').toString('latin1'));
  });

  test('h= lists each present signed header per instance, From/Subject/Date/To once more', () => {
    const { fields } = splitMessage(
      Buffer.from(
        'Received: x\r\nFrom: a@sender.test\r\nTo: b@x.test\r\nTo: c@x.test\r\nMessage-ID: <1@x>\r\nX-Mailer: y\r\n\r\n',
      ),
    );
    assert.deepEqual(signedHeaderNames(fields), [
      'From',
      'From',
      'Subject',
      'Date',
      'To',
      'To',
      'To',
      'Message-ID',
    ]);
  });

  test('the From domain: quoted names, comments and IDNs', () => {
    const domainOf = (from: string) =>
      authorDomain(splitMessage(Buffer.from(`From: ${from}\r\n\r\n`, 'utf8')).fields);
    assert.equal(domainOf('"Alice @ Home <x@evil.test>" <alice@Sender.Test>'), 'sender.test');
    assert.equal(domainOf('alice@sender.test (Alice <a@evil.test>)'), 'sender.test');
    assert.equal(domainOf('Jörg <j@bücher.test>'), 'xn--bcher-kva.test');
    assert.equal(domainOf('undisclosed'), undefined);
  });

  test('a bare-LF message gets the same signature as its CRLF form (signed as sent)', () => {
    const store = loadDkimKeys([
      entry('sender.test', 'r1', files.rsa2048!),
      entry('sender.test', 'e1', files.ed!),
    ]);
    const lf = Buffer.from(
      'From: a@sender.test\nSubject: x\n folded\nTo: b@x.test\n\nline  one \n\n.dot\n\n\n',
    );
    const crlf = Buffer.from(lf.toString().replace(/\n/g, '\r\n'));
    assert.equal(dkimSignatureFields(lf, store.keys, T), dkimSignatureFields(crlf, store.keys, T));
  });

  test('the signature fields: CRLF lines under 79 columns, t= the signing time, a valid b=', () => {
    const store = loadDkimKeys([entry('sender.test', 'r1', files.rsa2048!)]);
    const message = Buffer.from('From: a@sender.test\r\nTo: b@x.test\r\nSubject: hi\r\n\r\nbody\r\n');
    const signed = createDkimSigner(store).sign(message, 'default', T);
    const field = signed.subarray(0, signed.length - message.length).toString();
    assert.ok(field.endsWith('\r\n'));
    const lines = field.slice(0, -2).split('\r\n');
    assert.ok(
      lines.every((l) => l.length <= 78),
      lines.join('\n'),
    );
    assert.ok(lines.slice(1).every((l) => l.startsWith('\t')));
    assert.match(field, new RegExp(`t=${T / 1000};`));
    assert.match(field, /h=From:From:Subject:Subject:Date:To:To;/);
    // b= over the canonical header data, checked with the public key directly.
    const unsigned = field.replace(/b=[\s\S]*$/, 'b=');
    const data = `from:a@sender.test\r\nsubject:hi\r\nto:b@x.test\r\n${relaxedHeader(unsigned)}`;
    const b = Buffer.from(field.slice(field.indexOf('\tb=') + 3).replace(/\s/g, ''), 'base64');
    assert.ok(verify('sha256', Buffer.from(data), store.keys[0]!.privateKey, b));
  });

  test('a message nothing applies to comes back as the same Buffer', () => {
    const store = loadDkimKeys([entry('sender.test', 'r1', files.rsa2048!)]);
    const message = Buffer.from('From: a@other.test\r\n\r\nhi\r\n');
    assert.equal(createDkimSigner(store).sign(message, 'default', T), message);
  });

  test('a key that fails to sign is HERALD_DKIM_SIGN_FAILED naming the key', () => {
    const [ed] = loadDkimKeys([entry('sender.test', 'e1', files.ed!)]).keys;
    const broken: DkimKey = { ...ed!, algorithm: 'rsa-sha256' };
    assert.throws(
      () =>
        createDkimSigner(new DkimKeyStore([broken])).sign(
          Buffer.from('From: a@sender.test\r\n\r\n'),
          'default',
        ),
      (err: unknown) =>
        (err as { code?: string }).code === 'HERALD_DKIM_SIGN_FAILED' &&
        /e1\._domainkey\.sender\.test/.test((err as Error).message),
    );
  });
});
