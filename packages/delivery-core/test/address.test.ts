import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  asciiDomain,
  checkAddress,
  domainAsWritten,
  domainOfAddress,
  firstHeaderAddress,
  headerAddressDomain,
  normaliseAddress,
  uniqueAddresses,
  withinDomain,
} from '../src/address/index.js';
import { authorDomain, createDkimSigner, loadDkimKeys, splitMessage } from '../src/auth/index.js';
import { defaultConfig } from '../src/config/index.js';
// The DMARC pre-check as intake runs it.
import { intakeStages } from '../src/intake/index.js';
import { dmarcProblem, fromHeaderDomain, senderDomainAllowed } from '../src/sender/index.js';

const A_LABEL = 'xn--bcher-kva.example';

describe('address: one reading of addresses and domains', () => {
  test('domains compare in A-label form, lower-case, without a trailing dot', () => {
    assert.equal(asciiDomain('Bücher.Example.'), A_LABEL);
    assert.equal(asciiDomain('XN--BCHER-KVA.example'), A_LABEL);
    assert.equal(asciiDomain('under_score.example'), 'under_score.example');
    assert.equal(withinDomain('mail.bücher.example', A_LABEL), true);
    assert.equal(withinDomain(A_LABEL, 'bücher.example'), true);
    assert.equal(withinDomain('notbücher.example', 'bücher.example'), false);
  });

  test('an address: its domain, the domain as written, one key per mailbox', () => {
    assert.equal(domainOfAddress('<Jörg@Bücher.example>'), A_LABEL);
    assert.equal(domainOfAddress(''), undefined);
    assert.equal(domainOfAddress('x@'), undefined);
    assert.equal(domainAsWritten('x@Example.COM.'), 'example.com');
    assert.equal(normaliseAddress(' X@Bücher.example '), `x@${A_LABEL}`);
    assert.equal(normaliseAddress(`x@${A_LABEL}`), normaliseAddress('X@bücher.example'));
    assert.equal(checkAddress('x@bücher.example'), undefined);
  });

  test('the first address of a header value skips display names and comments', () => {
    assert.equal(firstHeaderAddress('"Alice @ Home <x@evil.test>" <alice@sender.test>'), 'alice@sender.test');
    assert.equal(firstHeaderAddress('alice@sender.test (Alice <a@evil.test>)'), 'alice@sender.test');
    assert.equal(headerAddressDomain('Jörg <j@bücher.example>, b@Bücher.example'), A_LABEL);
    // Authors of two domains have no one author domain (DMARC cannot align them).
    assert.equal(headerAddressDomain('Jörg <j@bücher.example>, b@other.test'), undefined);
    assert.equal(headerAddressDomain('undisclosed-recipients:;'), undefined);
  });
});

describe('an internationalised From domain: the DMARC pre-check and the DKIM signer agree', () => {
  let dir: string;
  let keyFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-address-'));
    keyFile = join(dir, 'ed.pem');
    const pair = generateKeyPairSync('ed25519');
    await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const fromSpellings = ['x@bücher.example', `x@${A_LABEL}`, 'Jörg <x@BÜCHER.example>'];
  const keySpellings = ['bücher.example', A_LABEL];
  const now = Date.parse('2026-12-01T00:00:00Z');

  for (const keyDomain of keySpellings) {
    for (const from of fromSpellings) {
      test(`From: ${from}, key for ${keyDomain}`, () => {
        const store = loadDkimKeys([{ domain: keyDomain, selector: 's1', key_file: keyFile, always: false }]);
        const message = Buffer.from(
          `From: ${from}\r\nTo: y@example.net\r\nSubject: hi\r\n\r\nbody\r\n`,
          'utf8',
        );

        // The intake's reading (sender/): the From domain, the keys it expects to sign, DMARC.
        const intakeFrom = fromHeaderDomain(message);
        const expected = store.select({ fromDomain: intakeFrom, tenant: 't', now });
        const problem = dmarcProblem({
          fromDomain: intakeFrom,
          returnPathDomain: undefined,
          dkimDomains: expected.map((k) => k.domain),
        });

        // The signer's reading (auth/): the From domain it selects keys by, and the d= it writes.
        const signerFrom = authorDomain(splitMessage(message).fields);
        const signed = createDkimSigner(store).sign(message, 't', now).toString('latin1');
        const d = /\bd=([^;\s]+)/.exec(signed)?.[1];

        assert.equal(intakeFrom, A_LABEL);
        assert.equal(signerFrom, intakeFrom);
        assert.deepEqual(
          expected.map((k) => k.domain),
          [A_LABEL],
        );
        assert.equal(d, A_LABEL, 'the signer signs with the key the pre-check counted on');
        assert.equal(problem, undefined);
        assert.equal(
          intakeStages(defaultConfig(), store).dmarcProblem({
            tenant: 't',
            from: 'bounces@elsewhere.test',
            body: message,
          }),
          undefined,
          "intake's DMARC pre-check counts on the same key",
        );
        assert.equal(senderDomainAllowed([keyDomain], intakeFrom), true);
      });
    }
  }

  test('DMARC alignment compares A-labels: a U-label key domain aligns with an A-label From', () => {
    assert.equal(
      dmarcProblem({
        fromDomain: `mail.${A_LABEL}`,
        returnPathDomain: undefined,
        dkimDomains: ['bücher.example'],
      }),
      undefined,
    );
  });

  test('a return path spelt as a U-label aligns with an A-label From', () => {
    const problem = dmarcProblem({
      fromDomain: fromHeaderDomain(Buffer.from(`From: x@${A_LABEL}\r\n\r\n`)),
      returnPathDomain: domainOfAddress('bounces@bücher.example'),
      dkimDomains: [],
    });
    assert.equal(problem, undefined);
  });
});

describe('recipients: each mailbox once', () => {
  test('as smtp-server keeps RCPT TO: case-insensitive, first position, last spelling', () => {
    assert.deepEqual(uniqueAddresses(['a@x.test', 'b@x.test', 'A@X.TEST', 'a@x.test']), [
      'a@x.test',
      'b@x.test',
    ]);
    assert.deepEqual(uniqueAddresses(['a@x.test', 'b@x.test', 'A@X.TEST']), ['A@X.TEST', 'b@x.test']);
    assert.deepEqual(uniqueAddresses(['j@bücher.example', 'j@xn--bcher-kva.example']), [
      'j@xn--bcher-kva.example',
    ]);
    assert.equal(uniqueAddresses(Array<string>(500).fill('same@ok.test')).length, 1);
  });
});
