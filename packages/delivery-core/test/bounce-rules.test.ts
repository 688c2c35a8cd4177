import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideReason } from '../src/bounce/decide.js';
import {
  CATEGORY_BY_REASON,
  type Phrase,
  REASONS,
  type Reason,
  STATUS_REASONS,
} from '../src/bounce/index.js';
import { hasPhrase, MTA_PHRASES, mtaReason, normaliseText, PHRASES } from '../src/bounce/phrases.js';
import { FIRST_PASS } from '../src/bounce/probes.js';
import { PROVIDERS, providerFor, providerReason } from '../src/bounce/providers.js';

describe('bounce rule tables', () => {
  test('every phrase is already in the normalised form it is matched against', () => {
    const all = [...Object.values(PHRASES), ...MTA_PHRASES.map(([, list]) => list)].flat();
    for (const phrase of all) {
      for (const part of typeof phrase === 'string' ? [phrase] : phrase) {
        assert.equal(part.toLowerCase(), part, `"${part}" has upper case`);
        assert.doesNotMatch(part, /\s{2,}|\t|\n/, `"${part}" has white space that normalising removes`);
      }
    }
  });

  test('every phrase is found by its own list inside a sentence (no exception hides it)', () => {
    for (const [reason, phrases] of Object.entries(PHRASES) as [Reason, readonly Phrase[]][]) {
      for (const phrase of phrases) {
        const text = `before ${typeof phrase === 'string' ? phrase : phrase.join(' x ')} after`;
        assert.ok(hasPhrase(reason, normaliseText(text)), `${reason}: ${JSON.stringify(phrase)}`);
      }
    }
  });

  test('each probe of the decision table decides its own example', () => {
    for (const probe of FIRST_PASS) {
      const { text, status, replyCode, command } = probe.example;
      const fact = {
        diagnostic: text,
        ...(status ? { status } : {}),
        ...(replyCode ? { replyCode } : {}),
        ...(command ? { command } : {}),
      };
      assert.equal(decideReason(fact), probe.reason, `probe ${probe.reason}: ${text}`);
    }
  });

  test('MTA wordings state their reason: Exim, OpenSMTPD, Google, DragonFly', () => {
    const cases: [string, string][] = [
      ['retry timeout exceeded', 'expired'],
      ['an MX or SRV record indicated no SMTP service', 'notaccept'],
      ['malformed address: <a@b> may not follow x@y', 'syntaxerror'],
      ['Network error on destination MXs', 'networkerror'],
      [
        "DNS Error: DNS type 'mx' lookup of x.test responded with code NXDOMAIN Domain name not found: x.test",
        'networkerror',
      ],
      ['Could not deliver for the last 432000 seconds. Giving up.', 'expired'],
      ['Visit https://groups.google.com/support/ for help', 'rejected'],
    ];
    for (const [text, reason] of cases) assert.equal(mtaReason(normaliseText(text)), reason, text);
  });

  test('a status code alone names the reason when the text says nothing more', () => {
    assert.equal(decideReason({ diagnostic: '552 over the limit', status: '5.2.2' }), 'mailboxfull');
    assert.equal(decideReason({ diagnostic: '550 no', status: '5.1.2' }), 'hostunknown');
    assert.equal(decideReason({ diagnostic: '554 no', status: '5.3.4' }), 'mesgtoobig');
    assert.equal(decideReason({ diagnostic: 'ok', status: '2.0.0' }), 'delivered');
    for (const status of Object.keys(STATUS_REASONS)) assert.match(status, /^[245]\.\d{1,3}\.\d{1,3}$/);
  });

  test('"user unknown" is a filtered message after DATA but an unknown user at RCPT', () => {
    assert.equal(
      decideReason({ diagnostic: '550 User unknown', replyCode: 550, command: 'RCPT' }),
      'userunknown',
    );
    assert.equal(
      decideReason({ diagnostic: '550 User unknown', replyCode: 550, command: 'DATA' }),
      'filtered',
    );
  });

  test('a recipient rejection is not mistaken for a sender rejection', () => {
    const text = '550 5.7.0 <x@y.test>: Recipient address rejected: Spam detected';
    assert.equal(
      decideReason({ diagnostic: text, status: '5.7.0', replyCode: 550, command: 'RCPT' }),
      'spamdetected',
    );
    assert.equal(
      decideReason({ diagnostic: '553 5.1.8 sender rejected', status: '5.1.8', command: 'MAIL' }),
      'rejected',
    );
  });

  test('provider codes: Orange/La Poste labels, KDDI and Microsoft wordings', () => {
    const orange = providerFor('smtp-in.orange.fr', undefined);
    assert.equal(orange?.name, 'orange');
    assert.equal(
      providerReason(orange!, normaliseText('550 5.5.0 Boite du destinataire archivee. LPN007_420')),
      'suspend',
    );
    assert.equal(
      providerReason(orange!, normaliseText('421 Too many connections, slow down. OFR005_104 [104]')),
      'toomanyconn',
    );
    const kddi = providerFor(undefined, 'ezweb.ne.jp');
    assert.equal(providerReason(kddi!, '550 : user unknown'), 'filtered');
    const microsoft = providerFor('mail.protection.outlook.com', undefined);
    assert.equal(
      providerReason(microsoft!, '550 5.1.10 resolver.adr.recipientnotfound; not found'),
      'userunknown',
    );
    assert.equal(providerFor('mx.example.test', 'example.test'), undefined);
    assert.ok(PROVIDERS.every((p) => p.hosts.length > 0 && p.rules.length > 0));
  });

  test('every reason has a category', () => {
    for (const reason of REASONS) assert.ok(CATEGORY_BY_REASON[reason], reason);
  });
});
