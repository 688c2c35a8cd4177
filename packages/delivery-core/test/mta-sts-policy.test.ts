import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_POLICY_AGE_S, mxMatches, parsePolicy, parseStsRecord } from '../src/auth/index.js';

/** RFC 8461 §3.2's example policy, with CRLF line ends as the RFC writes them. */
const RFC_POLICY = [
  'version: STSv1',
  'mode: enforce',
  'mx: mail.example.com',
  'mx: *.example.net',
  'mx: backupmx.example.com',
  'max_age: 604800',
].join('\r\n');

describe('the _mta-sts TXT record (RFC 8461 §3.1)', () => {
  test("RFC 8461's example record gives its id", () => {
    assert.deepEqual(parseStsRecord(['v=STSv1; id=20160831085700Z;']), {
      ok: true,
      value: '20160831085700Z',
    });
  });

  test('spaces around the delimiters, no trailing ";" and extension fields are accepted', () => {
    assert.deepEqual(parseStsRecord(['v=STSv1 ;id=abc123 ; ext_1=val']), { ok: true, value: 'abc123' });
    assert.deepEqual(parseStsRecord(['v=STSv1;id=X']), { ok: true, value: 'X' });
  });

  test('records that do not start with v=STSv1 are discarded before counting', () => {
    const answer = ['v=spf1 -all', 'v=STSv1; id=2024', 'google-site-verification=abc'];
    assert.deepEqual(parseStsRecord(answer), { ok: true, value: '2024' });
  });

  test('two v=STSv1 records mean no policy', () => {
    const parsed = parseStsRecord(['v=STSv1; id=1', 'v=STSv1; id=2']);
    assert.deepEqual(parsed, { ok: false, problem: '2 v=STSv1 records' });
  });

  for (const [record, why] of [
    ['v=STSv1;', 'no id'],
    ['v=STSv1; id=', 'empty id'],
    ['v=STSv1; id=has-dash', 'id with a character outside ALPHA / DIGIT'],
    [`v=STSv1; id=${'a'.repeat(33)}`, 'id longer than 32'],
    ['v=STSv10; id=1', 'another version'],
    ['v=stsv1; id=1', 'lower-case version (the version is case-sensitive)'],
    ['id=1; v=STSv1', 'version not first'],
    ['v=STSv1; id=1; bad field', 'a field that is not name=value'],
  ] as const) {
    test(`no policy id for ${JSON.stringify(record)} (${why})`, () => {
      assert.equal(parseStsRecord([record]).ok, false);
    });
  }

  test('no records at all: no policy', () => {
    assert.deepEqual(parseStsRecord([]), { ok: false, problem: 'no v=STSv1 record' });
  });
});

describe('the policy file (RFC 8461 §3.2)', () => {
  test("RFC 8461's example policy parses to enforce, its three patterns and a week", () => {
    assert.deepEqual(parsePolicy(RFC_POLICY), {
      ok: true,
      value: {
        mode: 'enforce',
        mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'],
        maxAgeS: 604800,
      },
    });
  });

  test('LF line ends, a trailing newline, unknown fields and blank lines are accepted', () => {
    const text = 'version: STSv1\nmode: testing\nmx: MX.Example.COM\nextension: x\n\nmax_age: 86400\n';
    assert.deepEqual(parsePolicy(text), {
      ok: true,
      value: { mode: 'testing', mx: ['mx.example.com'], maxAgeS: 86400 },
    });
  });

  test('mode none needs no mx', () => {
    assert.deepEqual(parsePolicy('version: STSv1\nmode: none\nmax_age: 86400\n'), {
      ok: true,
      value: { mode: 'none', mx: [], maxAgeS: 86400 },
    });
  });

  test(`max_age above ${MAX_POLICY_AGE_S} s is capped there`, () => {
    const parsed = parsePolicy('version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.maxAgeS, MAX_POLICY_AGE_S);
  });

  test('the first of a repeated field counts (mx excepted)', () => {
    const parsed = parsePolicy('version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 60');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.mode, 'testing');
  });

  for (const [text, problem] of [
    ['', 'version is missing, not STSv1'],
    ['<html><body>Not found</body></html>', 'not a "key: value" line: "<html><body>Not found</body></html>"'],
    ['version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 60', 'version is "STSv2", not STSv1'],
    ['version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 60', 'mode is "Enforce"'],
    ['version: STSv1\nmode: reject\nmx: a.example\nmax_age: 60', 'mode is "reject"'],
    ['version: STSv1\nmode: enforce\nmx: a.example', 'max_age is missing'],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1', 'max_age is "-1"'],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d', 'max_age is "1d"'],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901', 'max_age is "12345678901"'],
    ['version: STSv1\nmode: enforce\nmax_age: 60', 'mode enforce without mx'],
    ['version: STSv1\nmode: testing\nmax_age: 60', 'mode testing without mx'],
    ['version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 60', 'invalid mx pattern "*.com"'],
    ['version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 60', 'invalid mx pattern "mail.*.example"'],
    ['version: STSv1\nmode: enforce\nmx: *\nmax_age: 60', 'invalid mx pattern "*"'],
  ] as const) {
    test(`refused: ${problem}`, () => {
      assert.deepEqual(parsePolicy(text), { ok: false, problem });
    });
  }
});

describe('MX patterns (RFC 8461 §4.1)', () => {
  const cases: [pattern: string, host: string, matches: boolean][] = [
    ['mail.example.com', 'mail.example.com', true],
    ['mail.example.com', 'MAIL.Example.com.', true],
    ['mail.example.com', 'mail2.example.com', false],
    // The RFC's own wildcard examples:
    ['*.example.com', 'mail.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'foo.bar.example.com', false],
    ['*.example.net', 'mx1.EXAMPLE.net', true],
    ['*.example.net', 'mx1.example.net.evil.test', false],
    ['*.example.net', 'mx1example.net', false],
  ];
  for (const [pattern, host, matches] of cases) {
    test(`${pattern} ${matches ? 'matches' : 'does not match'} ${host}`, () => {
      assert.equal(mxMatches(pattern, host), matches);
    });
  }
});
