/**
 * The bounce classifier is linear in its input. For hostile shapes (a long line without a newline,
 * runs of the characters its patterns look for, many headers, deep nesting, many recipients, a
 * pumped SMTP reply) the time for 8N is compared with the time for N, best of a few runs, and must
 * stay well below the 64 of quadratic work. No absolute time is asserted, so a slow or busy
 * machine does not change the outcome; fast-check (fixed seed, bounded runs) picks more shapes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { classifyMessage, classifyReply, parseOperatorRules } from '../src/bounce/index.js';
import { timeGrowth } from './fixtures/growth.js';
import { HOSTILE_CONTEXTS, HOSTILE_UNITS, pump } from './fixtures/hostile-bounces.js';

/** Linear work gives 8 for 8N; quadratic gives 64. */
const SIZE_FACTOR = 8;
const MAX_RATIO = 24;
const BASE_CHARS = 4 * 1024;
/** Generous: a quadratic spot would blow far past these; linear code needs well under a second. */
const TEST_TIMEOUT_MS = 120_000;
const FUZZ_SEED = 20_240_611;
const FUZZ_RUNS = 30;

/** Time(8N) / time(N) for `make` (fixtures/growth.ts: best of each size, rounds until below the bound). */
function growth(make: (n: number) => string, run: (input: string) => unknown, base = BASE_CHARS): number {
  const small = make(base);
  const big = make(base * SIZE_FACTOR);
  return timeGrowth(
    () => run(small),
    () => run(big),
    MAX_RATIO,
  );
}

const message = (input: string) => classifyMessage(input);

function assertLinear(
  label: string,
  make: (n: number) => string,
  run: (input: string) => unknown = message,
  base = BASE_CHARS,
): void {
  const ratio = growth(make, run, base);
  assert.ok(ratio < MAX_RATIO, `${label}: time grew ${ratio.toFixed(1)}× for ${SIZE_FACTOR}× the input`);
}

describe('the bounce classifier is linear in its input', () => {
  test('a long line without a newline', { timeout: TEST_TIMEOUT_MS }, () => {
    assertLinear('one line of letters', (n) => `Subject: x\n\n${'a'.repeat(n)}`);
    assertLinear('one line, no header', (n) => 'x'.repeat(n));
    assertLinear('one line in a header', (n) => `Subject: ${'a'.repeat(n)}\n\nbody`);
  });

  test('runs of the characters its patterns look for, in every part of a bounce', {
    timeout: TEST_TIMEOUT_MS,
  }, () => {
    for (const [context, wrap] of Object.entries(HOSTILE_CONTEXTS)) {
      for (const unit of HOSTILE_UNITS) {
        assertLinear(`${context} × ${JSON.stringify(unit)}`, (n) => wrap(pump(unit, n)));
      }
    }
  });

  test('many headers, many parts, deep nesting, many recipients', { timeout: TEST_TIMEOUT_MS }, () => {
    assertLinear('header fields', (n) => `${'X-H: v\n'.repeat(n / 7)}\nbody`);
    assertLinear(
      'Received fields',
      (n) => `${'Received: from a.example.com by b.example.net\n'.repeat(n / 46)}\nx`,
    );
    assertLinear('folded header', (n) => `Subject: a\n${' b\n'.repeat(n / 3)}\nbody`);
    assertLinear(
      'parts',
      (n) => `Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(n / 7)}`,
    );
    assertLinear('nested multiparts', (n) => {
      let body = 'bob@example.com 550 5.1.1 unknown';
      for (let depth = 0; body.length < n; depth++)
        body = `Content-Type: multipart/mixed; boundary="b${depth}"\n\n--b${depth}\n${body}\n--b${depth}--\n`;
      return body;
    });
    assertLinear('DSN recipients', (n) => {
      const group = 'Final-Recipient: rfc822; u@example.com\nAction: failed\nStatus: 5.1.1\n\n';
      return `Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.test\n\n${group.repeat(n / group.length)}`;
    });
    assertLinear(
      'notice recipients',
      (n) => `Subject: x\n\n${'u@example.com: 550 unknown\n\n'.repeat(n / 27)}`,
    );
    assertLinear('SES recipients', (n) => {
      const one = '{"emailAddress":"u@example.com","diagnosticCode":"smtp; 550 5.1.1 unknown"},';
      const list = one.repeat(n / one.length);
      return `Subject: x\n\n{"notificationType":"Bounce","bounce":{"bouncedRecipients":[${list}{}]}}`;
    });
    assertLinear('Diagnostic-Code continuation lines', (n) => {
      const dsn = 'Final-Recipient: rfc822; u@example.com\nAction: failed\nDiagnostic-Code: smtp; 550 x\n';
      return `Content-Type: message/delivery-status\n\n${dsn}${' more words\n'.repeat(n / 12)}`;
    });
  });

  test('a pumped SMTP reply (classifyReply)', { timeout: TEST_TIMEOUT_MS }, () => {
    for (const unit of HOSTILE_UNITS) {
      assertLinear(
        `reply × ${JSON.stringify(unit)}`,
        (n) => pump(unit, n),
        (text) => classifyReply({ code: 550, enhanced: '5.1.1', text, stage: 'rcpt' }, 'u@orange.fr'),
      );
    }
  });

  test('operator rules (regex, words in order) and the widened and nested readings', {
    timeout: TEST_TIMEOUT_MS,
  }, () => {
    const rules = parseOperatorRules(
      [
        'rules:',
        '  - name: backtracking-bait',
        '    match: {regex: "a*a?b"}',
        '    reason: blocked',
        '    examples: ["550 aab"]',
        '  - name: words',
        '    match: {contains: ["a", "a", "b"]}',
        '    reason: blocked',
        '    examples: ["550 a a b"]',
      ].join('\n'),
    );
    const withRules = (input: string) => classifyMessage(input, { rules });
    assertLinear(
      'notice of a-runs, regex rule',
      (n) => `Subject: x\n\nu@example.com: ${'a'.repeat(n)}`,
      withRules,
    );
    assertLinear(
      'DSN diagnostic of a-runs',
      (n) => {
        const dsn = `Final-Recipient: rfc822; u@example.com\nAction: failed\nDiagnostic-Code: smtp; ${'a'.repeat(n)}\n`;
        return `Content-Type: message/delivery-status\n\n${dsn}`;
      },
      withRules,
    );
    assertLinear(
      'forwarded bounces, each unreadable',
      (n) => {
        let body = 'u@example.com said nothing';
        for (let depth = 0; body.length < n; depth++)
          body = `Subject: s${depth}\nContent-Type: message/rfc822\n\n${body}`;
        return body;
      },
      withRules,
    );
  });

  test('1 MiB of pathological text under a regex rule is read (the regex sees 2 KiB)', {
    timeout: TEST_TIMEOUT_MS,
  }, () => {
    const rules = parseOperatorRules(
      'rules:\n  - name: bait\n    match: {regex: "a*q"}\n    reason: blocked\n    examples: ["550 aaq"]\n',
    );
    const raw = `Subject: x\n\nu@example.com: 550 ${'a'.repeat(1024 * 1024)}`;
    const report = classifyMessage(raw, { rules });
    assert.equal(report.recipients[0]?.address, 'u@example.com');
    assert.notEqual(report.recipients[0]?.rule, 'operator:bait');
  });

  test('shapes fast-check picks (fixed seed, bounded runs)', { timeout: TEST_TIMEOUT_MS }, () => {
    const contexts = Object.entries(HOSTILE_CONTEXTS);
    fc.assert(
      fc.property(
        fc.constantFrom(...contexts),
        fc.string({
          unit: fc.constantFrom(...'a1.@-<>:; \t\n"\'=?_#()[]/*+,&5Z'),
          minLength: 1,
          maxLength: 4,
        }),
        ([context, wrap], unit) => {
          const ratio = growth((n) => wrap(pump(unit, n)), message);
          assert.ok(ratio < MAX_RATIO, `${context} × ${JSON.stringify(unit)}: grew ${ratio.toFixed(1)}×`);
        },
      ),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS, endOnFailure: true },
    );
  });
});
