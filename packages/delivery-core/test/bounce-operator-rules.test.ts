/**
 * Operator bounce rules (operator-rules.ts, rules-check.ts): the shipped example file parses and
 * its examples pass; a rule decides before the built-in tables and says so in `rule`; `hard`
 * overrides; errors name the key; patterns that could backtrack are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  checkOperatorRules,
  classifyMessage,
  classifyReply,
  MAX_RULES_FILE_CHARS,
  parseOperatorRules,
  RulesFileError,
  unsafeRegexReason,
} from '../src/bounce/index.js';

const EXAMPLE_FILE = new URL('../../../config/bounce-rules.example.yaml', import.meta.url);

const RULES = `
rules:
  - name: acme-full
    match: {host: acme.example, status: "5.2.", contains: ["storage", "exhausted"]}
    reason: mailboxfull
    hard: true
    examples:
      - {diagnostic: "552 5.2.0 storage of this user is exhausted", host: mx1.acme.example}
      - {diagnostic: "552 5.2.0 storage of this user is exhausted", host: mx.other.example, reason: filtered}
`;

describe('operator bounce rules', () => {
  test('the shipped example file parses and every example passes', () => {
    const rules = parseOperatorRules(readFileSync(EXAMPLE_FILE, 'utf8'), 'example');
    assert.ok(rules.rules.length >= 2);
    assert.deepEqual(checkOperatorRules(rules), []);
  });

  test('a rule decides before the built-in tables, names itself and may set hard', () => {
    const rules = parseOperatorRules(RULES);
    assert.deepEqual(checkOperatorRules(rules), []);
    const reply = {
      code: 552,
      enhanced: '5.2.0',
      text: 'storage of this user is exhausted',
      stage: 'rcpt' as const,
      host: 'mx1.acme.example',
    };
    const builtIn = classifyReply(reply, 'u@acme.example');
    const ruled = classifyReply(reply, 'u@acme.example', { rules });
    assert.notEqual(builtIn.rule, 'operator:acme-full');
    assert.equal(ruled.reason, 'mailboxfull');
    assert.equal(ruled.hard, true);
    assert.equal(ruled.rule, 'operator:acme-full');
    const raw =
      'Subject: Undelivered\n\n<u@acme.example>: host mx1.acme.example[192.0.2.1] said: 552 5.2.0 storage of this user is exhausted (in reply to RCPT TO command)\n';
    assert.equal(classifyMessage(raw, { rules }).recipients[0]?.rule, 'operator:acme-full');
  });

  test('a failing example is reported with the rule that decided it', () => {
    const rules = parseOperatorRules(`
rules:
  - name: greedy
    match: {contains: ["quota"]}
    reason: blocked
    examples: ["452 4.2.2 quota exceeded"]
  - name: shadowed
    match: {contains: ["quota exceeded"]}
    reason: mailboxfull
    examples: ["452 4.2.2 quota exceeded"]
`);
    const failures = checkOperatorRules(rules);
    assert.equal(failures.length, 1);
    assert.deepEqual(
      { rule: failures[0]?.rule, got: failures[0]?.got, by: failures[0]?.decidedBy },
      { rule: 'shadowed', got: 'blocked', by: 'operator:greedy' },
    );
  });

  test('errors name the key', () => {
    const cases: [string, RegExp][] = [
      [
        'rules: [{name: a, match: {text: x}, reason: blocked, examples: [x]}]',
        /rules\[0\]\.match\.text: unknown key/,
      ],
      [
        'rules: [{name: a, match: {code: 550}, reason: nope, examples: [x]}]',
        /rules\[0\]\.reason: expected one of the reasons .*\bsuspend\b.*\buserunknown\b/,
      ],
      ['rules: [{name: a, match: {code: 550}, reason: blocked}]', /rules\[0\]\.examples/],
      ['rules: [{name: a, match: {code: 99}, reason: blocked, examples: [x]}]', /rules\[0\]\.match\.code/],
      [
        'rules: [{name: a, match: {status: "5.x"}, reason: blocked, examples: [x]}]',
        /rules\[0\]\.match\.status/,
      ],
      [
        'rules: [{name: a, match: {regex: "(a|b)*c"}, reason: blocked, examples: [x]}]',
        /rules\[0\]\.match\.regex: a repeated group/,
      ],
      [
        // 32⁴ ways to split a run of "a" at each position: 10 s on 2 KiB before this check.
        'rules: [{name: a, match: {regex: "a{1,32}a{1,32}a{1,32}a{1,32}x"}, reason: blocked, examples: [x]}]',
        /rules\[0\]\.match\.regex: its quantifiers allow too many ways to match/,
      ],
      [
        'rules: [{name: a, match: {regex: "[\\\\s\\\\S]{0,32}.{0,32}[\\\\s\\\\S]*x"}, reason: blocked, examples: [x]}]',
        /rules\[0\]\.match\.regex: its quantifiers allow too many ways to match/,
      ],
      [`rules: []\n#${'x'.repeat(MAX_RULES_FILE_CHARS)}`, /longer than 1048576 characters/],
      [
        'rules: [{name: a, match: {code: 550}, reason: blocked, examples: [x]}, {name: a, match: {code: 550}, reason: blocked, examples: [x]}]',
        /rules\[1\]\.name: "a" is used twice/,
      ],
      ['nope: 1', /expected a map with a "rules" list/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseOperatorRules(text, 'f.yaml'),
        (err: unknown) =>
          err instanceof RulesFileError && message.test(err.message) && err.message.startsWith('f.yaml: '),
        text,
      );
    }
  });

  test('patterns that could backtrack are refused, plain ones pass', () => {
    for (const unsafe of [
      '(a+)+b',
      '(a|aa)*',
      'a*b*c',
      '.*x.*y',
      '(x)\\1',
      '(?=a)b',
      '(?<!a)b',
      'a{1,1000}',
      'a{2,}b*',
    ])
      assert.ok(unsafeRegexReason(unsafe), unsafe);
    for (const safe of [
      '\\bacme-rep-[0-9]{3}\\b',
      'mailbox (?:is )?full',
      'quota.*exceeded',
      '[a-z]+ blocked',
      'x{2,5}y?',
    ])
      assert.equal(unsafeRegexReason(safe), undefined, safe);
  });
});
