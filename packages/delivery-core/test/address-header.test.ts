/**
 * The From reader (address/header.ts): an RFC 5322 address list read in one pass. Every author
 * counts (no "first address" a second one can hide behind), and the work is linear in the
 * field's length — asserted by the reader's own step count, not by a clock — with long fields
 * refused outright.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  firstHeaderAddress,
  headerAddressDomain,
  MAX_ADDRESS_FIELD_CHARS,
  readAddressList,
  readAuthors,
} from '../src/address/index.js';
import { authorDomain, splitMessage } from '../src/auth/index.js';
import { fromHeaderDomain } from '../src/sender/index.js';

const MIB = 1024 * 1024;
/** Steps per character a linear reader may take (each character is looked at a bounded number of times). */
const STEPS_PER_CHAR = 4;

const PATHOLOGICAL: Record<string, (n: number) => string> = {
  'an unclosed quote': (n) => `"${'a'.repeat(n)}`,
  'an unclosed quote full of escapes': (n) => `"${'\\"'.repeat(n / 2)}`,
  "50k '('": (n) => '('.repeat(n),
  "'(' and ')' interleaved, unclosed": (n) => `(${'(a)'.repeat(n / 3)}`,
  "'a' without @": (n) => 'a'.repeat(n),
  'runs of "a@"': (n) => 'a@'.repeat(n / 2),
  'runs of "a@b,"': (n) => 'a@b,'.repeat(n / 4),
  'runs of "<"': (n) => '<'.repeat(n),
  'runs of "x <a@b"': (n) => 'x <a@b'.repeat(n / 6),
  'runs of ".": "a."': (n) => 'a.'.repeat(n / 2),
  'runs of "g:"': (n) => 'g:'.repeat(n / 2),
  'an unclosed domain literal': (n) => `a@[${'1'.repeat(n)}`,
};

describe('address lists: every author, read in linear time', () => {
  for (const [name, make] of Object.entries(PATHOLOGICAL))
    test(`${name}: 1 MiB is read in linear steps, and refused by the cap`, () => {
      for (const size of [MIB / 4, MIB / 2, MIB]) {
        const input = make(size);
        const reading = readAddressList(input, Number.POSITIVE_INFINITY);
        assert.ok(
          reading.steps <= STEPS_PER_CHAR * input.length + 16,
          `${reading.steps} steps for ${input.length} characters`,
        );
      }
      const capped = readAddressList(make(MIB));
      assert.equal(capped.ok, false);
      assert.equal(capped.steps, 0);
    });

  test('a field over the cap is unreadable; one just under it is read', () => {
    const name = 'a'.repeat(MAX_ADDRESS_FIELD_CHARS - '<a@shop.test>'.length - 1);
    assert.deepEqual(readAuthors([`${name} <a@shop.test>`]), {
      ok: true,
      addresses: ['a@shop.test'],
      domains: ['shop.test'],
    });
    assert.equal(readAuthors([`${name}x <a@shop.test>`]).ok, false);
  });

  const authors = (value: string) => {
    const r = readAuthors([value]);
    return r.ok ? r.domains : `refused: ${r.problem}`;
  };

  test('comments (nested), quoted strings and groups hide no author', () => {
    assert.deepEqual(authors('(a (b) <a@shop.test>) x@evil.test'), ['evil.test']);
    assert.deepEqual(authors('(nested (comment) <a@shop.test>) Evil <x@evil.test>'), ['evil.test']);
    assert.deepEqual(authors('x@evil.test, <a@shop.test>'), ['evil.test', 'shop.test']);
    assert.deepEqual(authors('a@shop.test, x@evil.test'), ['shop.test', 'evil.test']);
    assert.deepEqual(authors('"A \\" <a@shop.test>" <x@evil.test>'), ['evil.test']);
    assert.deepEqual(authors('team: a@shop.test, B <b@evil.test>;, c@shop.test'), ['shop.test', 'evil.test']);
    assert.deepEqual(authors('=?utf-8?q?Shop?= <news@mail.shop.test>'), ['mail.shop.test']);
    assert.deepEqual(authors('"a b"@shop.test'), ['shop.test']);
    assert.deepEqual(authors('a@[192.0.2.1]'), ['[192.0.2.1]']);
    assert.deepEqual(authors('a@BÜCHER.example'), ['xn--bcher-kva.example']);
    assert.deepEqual(authors('a@xn--bcher-kva.example'), ['xn--bcher-kva.example']);
  });

  test('what is not one address list is refused', () => {
    for (const value of [
      '<a@shop.test> <x@evil.test>',
      'x@evil.test@shop.test',
      'a b@shop.test',
      'a..b@shop.test',
      'a@shop..test',
      'Alice @ Home <a@shop.test>',
      '(unclosed <a@shop.test>',
      '"unclosed <a@shop.test>',
      '<a@shop.test',
      'undisclosed-recipients:;',
      'a@shop.test;',
      'g: a@shop.test',
      '',
      'shop.test',
      'a@shop\uff0etest',
      'a@sh\u200bop.test',
      'a@\uff53\uff48\uff4f\uff50.test',
      'a@xn--zz.test',
    ])
      assert.match(String(authors(value)), /^refused/, value);
    assert.equal(readAuthors(['a@shop.test', 'a@shop.test']).ok, false);
    assert.equal(readAuthors([]).ok, false);
  });

  test('firstHeaderAddress / headerAddressDomain read the same way', () => {
    assert.equal(firstHeaderAddress('B <b@x.test>, a@y.test'), 'b@x.test');
    assert.equal(firstHeaderAddress('(a (b) <a@shop.test>) x@evil.test'), 'x@evil.test');
    assert.equal(headerAddressDomain('a@shop.test, x@evil.test'), undefined);
    assert.equal(headerAddressDomain('a@shop.test, B <b@Shop.Test>'), 'shop.test');
  });

  test('the DKIM signer and the intake read the same author domain, and a 1 MiB From as none', () => {
    const cases: [string, string | undefined][] = [
      ['From: A <a@Shop.Test>\r\n', 'shop.test'],
      ['From: a@shop.test, B <b@shop.test>\r\n', 'shop.test'],
      ['From: a@shop.test, x@evil.test\r\n', undefined],
      ['From: a@shop.test\r\nFrom: a@shop.test\r\n', undefined],
      ['From: (a (b) <a@shop.test>) x@evil.test\r\n', 'evil.test'],
      [`From: "${'a'.repeat(MIB)}\r\n`, undefined],
      [`From: ${'('.repeat(MIB)}\r\n`, undefined],
    ];
    for (const [head, domain] of cases) {
      const message = Buffer.from(`${head}Subject: s\r\n\r\nbody\r\n`);
      assert.equal(authorDomain(splitMessage(message).fields), domain, head.slice(0, 60));
      assert.equal(fromHeaderDomain(message), domain, head.slice(0, 60));
    }
  });
});
