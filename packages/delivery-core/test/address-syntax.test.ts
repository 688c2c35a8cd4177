/**
 * Envelope address syntax (address/syntax.ts `checkAddress`): the one decision the relay's MAIL /
 * RCPT and `send()` share, as a table. Every address the relay's SMTP server (smtp-server) refuses
 * with 501 is refused here too, so `send()` cannot spool what SMTP could not take (nor put an
 * address with two "@" on the wire).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkAddress } from '../src/address/index.js';

const REFUSED = [
  '"a b"@ok.test',
  '"a@b"@ok.test',
  '"a\\"b"@ok.test',
  'a..b@ok.test',
  '.a@ok.test',
  'a.@ok.test',
  'a b@ok.test',
  'a\\b@ok.test',
  'a<b@ok.test',
  'a:b@ok.test',
  'a\u200bb@ok.test',
  // bidirectional formatting: shown as another address
  'b\u202e@ok.test',
  'a\u2066b\u2069@ok.test',
  'a\u200fb@ok.test',
  'a@ok\u202a.test',
  // not UTF-8 on the wire (smtp-server decodes such bytes to U+FFFD) or a lone surrogate (JSON)
  'a\ufffdb@ok.test',
  '\ufffd\ufffd@ok.test',
  'a\ud800b@ok.test',
  'a\udfffb@ok.test',
  'a@ok\ufffd.test',
  `${'a'.repeat(65)}@ok.test`,
  `a@${'a'.repeat(64)}.ok.test`,
  'a@ok_x.test',
  'a@xn--zz.example',
  'a@ok.test@ok.test',
  'a@ok.test.',
  'a@-ok.test',
  'a@ok-.test',
  'a@.ok.test',
  'a@ok..test',
  'a@[1.2.3]',
  'a@[IPv6:zz]',
  'a@sh\u200bop.test',
  'a@shop\uff0etest',
  'a@\uff53\uff48\uff4f\uff50.test',
  '@ok.test',
  'a@',
  'a',
];
const ACCEPTED = [
  'a@ok.test',
  'A.b-c@OK.test',
  "a+b=c/d{e}|f~g!h#$%&'*?^`@ok.test",
  '"ab"@ok.test',
  'jörg@ok.test',
  'a\u{1f600}b@ok.test',
  'a@bücher.example',
  'a@xn--bcher-kva.example',
  'a@ok.tést',
  'a@ok',
  'a@1.2.3.4',
  'a@[127.0.0.1]',
  'a@[IPv6:::1]',
  `${'a'.repeat(64)}@ok.test`,
];

describe('envelope address syntax: never looser than the relay', () => {
  for (const address of REFUSED)
    test(`refused: ${JSON.stringify(address)}`, () => {
      assert.notEqual(checkAddress(address), undefined);
    });
  for (const address of ACCEPTED)
    test(`accepted: ${JSON.stringify(address)}`, () => {
      assert.equal(checkAddress(address), undefined);
    });
});
