/**
 * Property-based fuzzing of the bounce parsers (fast-check, fixed seeds, bounded runs): on any
 * bytes, on hostile shapes and on real dev-corpus bounces mutated (truncated, cut, duplicated,
 * line ends changed, boundaries lost, nested), classifyMessage, classifyReply and the DSN, ARF and
 * SES readers never throw and always return a well-formed result within the caps of limits.ts;
 * DSN and ARF fields written by a generator are read back as written.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseDeliveryStatus } from '../src/bounce/dsn.js';
import { parseFeedbackReport } from '../src/bounce/feedback.js';
import {
  type BounceReport,
  CATEGORY_BY_REASON,
  type Classification,
  classifyMessage,
  classifyReply,
  isReason,
} from '../src/bounce/index.js';
import {
  MAX_ADDRESS_CHARS,
  MAX_DIAGNOSTIC_CHARS,
  MAX_FIELD_CHARS,
  MAX_REPORT_RECIPIENTS,
} from '../src/bounce/limits.js';
import { findText, replaceText } from '../src/bounce/linear.js';
import { parseSesNotification } from '../src/bounce/ses.js';
import type { SmtpReply } from '../src/errors/index.js';
import { HOSTILE_CONTEXTS, HOSTILE_UNITS, pump } from './fixtures/hostile-bounces.js';

const SEED = 424_242;
const RUNS = 150;
const CORPUS_RUNS = 300;
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../../../shared/corpus/bounces/emails');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bounce');
const KINDS = new Set(['dsn', 'notice', 'feedback', 'autoreply', 'unknown']);
const ACTIONS = new Set(['retry', 'bounce', 'suppress', 'none']);
const COMMANDS = new Set(['CONN', 'EHLO', 'HELO', 'STARTTLS', 'AUTH', 'MAIL', 'RCPT', 'DATA']);
const STATUS_RE = /^[245]\.\d{1,3}\.\d{1,3}$/;

function assertWellFormedRecipient(r: Classification): void {
  assert.ok(isReason(r.reason), `reason ${r.reason}`);
  assert.equal(typeof r.hard, 'boolean');
  assert.ok(ACTIONS.has(r.action), `action ${r.action}`);
  assert.equal(r.category, CATEGORY_BY_REASON[r.reason]);
  assert.ok(r.status === null || STATUS_RE.test(r.status), `status ${r.status}`);
  assert.equal(typeof r.address, 'string');
  assert.equal(r.address, r.address.toLowerCase());
  assert.ok(r.address.length <= MAX_ADDRESS_CHARS, `address of ${r.address.length} chars`);
  assert.ok(r.diagnostic.length <= MAX_DIAGNOSTIC_CHARS, `diagnostic of ${r.diagnostic.length} chars`);
  if (r.replyCode !== undefined)
    assert.ok(Number.isInteger(r.replyCode) && r.replyCode >= 200 && r.replyCode < 600);
  if (r.command !== undefined) assert.ok(COMMANDS.has(r.command), `command ${r.command}`);
  if (r.feedbackType !== undefined) assert.ok(r.feedbackType.length <= MAX_FIELD_CHARS);
  if (r.remoteHost !== undefined) assert.ok(r.remoteHost.length <= MAX_FIELD_CHARS);
}

function assertWellFormed(report: BounceReport): void {
  assert.ok(KINDS.has(report.kind), `kind ${report.kind}`);
  assert.ok(report.recipients.length >= 1 && report.recipients.length <= MAX_REPORT_RECIPIENTS);
  for (const r of report.recipients) assertWellFormedRecipient(r);
  if (report.reportingMta !== undefined) assert.ok(report.reportingMta.length <= MAX_FIELD_CHARS);
  if (report.feedbackType !== undefined) assert.ok(report.feedbackType.length <= MAX_FIELD_CHARS);
}

/** classifyMessage must not throw; its result must be well formed. */
function classifiesSafely(raw: Buffer | string): BounceReport {
  const report = classifyMessage(raw);
  assertWellFormed(report);
  return report;
}

function loadMessages(): Buffer[] {
  const dir = existsSync(CORPUS) ? CORPUS : FIXTURES;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}

/** Ways to damage a real bounce; each takes the message and random numbers in [0, 1). */
const MUTATIONS: Readonly<Record<string, (raw: string, a: number, b: number) => string>> = {
  truncated: (raw, a) => raw.slice(0, Math.floor(raw.length * a)),
  'a slice cut out': (raw, a, b) =>
    raw.slice(0, Math.floor(raw.length * Math.min(a, b))) +
    raw.slice(Math.floor(raw.length * Math.max(a, b))),
  'a slice repeated': (raw, a, b) => {
    const from = Math.floor(raw.length * a);
    const slice = raw.slice(from, from + 1 + Math.floor(200 * b));
    return raw.slice(0, from) + slice.repeat(2 + Math.floor(b * 60)) + raw.slice(from);
  },
  'a line repeated': (raw, a, b) => {
    const lines = raw.split('\n');
    const at = Math.floor(lines.length * a);
    lines.splice(at, 0, ...Array<string>(1 + Math.floor(b * 500)).fill(lines[at] ?? ''));
    return lines.join('\n');
  },
  'CR line ends': (raw) => raw.replace(/\r?\n/g, '\r'),
  'CRLF line ends': (raw) => raw.replace(/\r?\n/g, '\r\n'),
  'blank lines removed': (raw) => raw.replace(/\n\s*\n/g, '\n'),
  'closing boundaries removed': (raw) => raw.replace(/^--.*--\s*$/gm, ''),
  'every boundary removed': (raw) => raw.replace(/^--.*$/gm, ''),
  'bytes flipped': (raw, a, b) => {
    const chars = [...raw];
    for (let i = 0; i < 1 + b * 40; i++) {
      const at = Math.floor(((a + i * 0.618_034) % 1) * chars.length);
      chars[at] = String.fromCharCode(Math.floor(((b + i * 0.414) % 1) * 256));
    }
    return chars.join('');
  },
  'nested in multiparts': (raw, a) => {
    let out = raw;
    for (let depth = 0; depth < 1 + Math.floor(a * 12); depth++)
      out = `Content-Type: multipart/mixed; boundary="n${depth}"\n\n--n${depth}\n${out}\n--n${depth}--\n`;
    return out;
  },
  'headers only': (raw) => raw.split(/\r?\n\r?\n/)[0] ?? '',
  'body only': (raw) =>
    raw
      .split(/\r?\n\r?\n/)
      .slice(1)
      .join('\n\n'),
};

describe('bounce parsers under fuzzing', () => {
  test('classifyMessage on arbitrary bytes and strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16_384, size: 'large' }), (bytes) => {
        classifiesSafely(Buffer.from(bytes));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 8192, size: 'large' }), (text) => {
        classifiesSafely(text);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('classifyMessage on hostile shapes', () => {
    const contexts = Object.values(HOSTILE_CONTEXTS);
    fc.assert(
      fc.property(
        fc.constantFrom(...contexts),
        fc.oneof(fc.constantFrom(...HOSTILE_UNITS), fc.string({ minLength: 1, maxLength: 6 })),
        fc.integer({ min: 1, max: 20_000 }),
        (wrap, unit, chars) => {
          classifiesSafely(wrap(pump(unit, chars)));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('real bounces from the dev corpus, damaged', () => {
    const messages = loadMessages().map((m) => m.toString('latin1'));
    const names = Object.keys(MUTATIONS);
    fc.assert(
      fc.property(
        fc.nat({ max: messages.length - 1 }),
        fc.array(
          fc.tuple(
            fc.constantFrom(...names),
            fc.double({ min: 0, max: 1, noNaN: true }),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        (index, steps) => {
          let raw = messages[index]!;
          for (const [name, a, b] of steps) raw = MUTATIONS[name]!(raw, a, b);
          classifiesSafely(Buffer.from(raw, 'latin1'));
        },
      ),
      { seed: SEED, numRuns: CORPUS_RUNS },
    );
  });

  test('classifyReply on any reply text, code and stage', () => {
    const stages = [
      'connect',
      'greeting',
      'ehlo',
      'starttls',
      'auth',
      'mail',
      'rcpt',
      'data',
      'dns',
    ] as const;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999 }),
        fc.option(
          fc.oneof(fc.constantFrom('5.1.1', '4.2.2', '5.7.1', '4.7.0'), fc.string({ maxLength: 12 })),
          {
            nil: undefined,
          },
        ),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 2048 }),
          fc.constantFrom(...HOSTILE_UNITS).map((u) => pump(u, 20_000)),
        ),
        fc.constantFrom(...stages),
        fc.string({ maxLength: 300 }),
        (code, enhanced, text, stage, address) => {
          const reply = { code, text, stage, ...(enhanced === undefined ? {} : { enhanced }) } as SmtpReply;
          const result = classifyReply(reply, address.toLowerCase().slice(0, MAX_ADDRESS_CHARS));
          assertWellFormedRecipient({ ...result, address: result.address.slice(0, MAX_ADDRESS_CHARS) });
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('the DSN, ARF and SES readers never throw and stay within their caps', () => {
    const names = ['Final-Recipient', 'Original-Recipient', 'X-Actual-Recipient', 'Action', 'Status'];
    const more = ['Diagnostic-Code', 'Remote-MTA', 'Reporting-MTA', 'Feedback-Type', 'Original-Rcpt-To', ' '];
    const line = fc
      .tuple(fc.constantFrom(...names, ...more), fc.string({ unit: 'binary', maxLength: 300 }))
      .map(([name, value]) => `${name}: ${value}`);
    const fieldLines = fc.array(fc.oneof(line, fc.constant('')), { maxLength: 200 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(
        fc.oneof(fieldLines, fc.string({ unit: 'binary', maxLength: 8192, size: 'large' })),
        (text) => {
          const dsn = parseDeliveryStatus(text);
          assert.ok(dsn.recipients.length <= MAX_REPORT_RECIPIENTS);
          for (const r of dsn.recipients) {
            assert.ok(r.address.length > 0 && r.address.length <= MAX_ADDRESS_CHARS);
            assert.ok((r.diagnostic ?? '').length <= MAX_DIAGNOSTIC_CHARS);
            if (r.status) assert.match(r.status, STATUS_RE);
          }
          const arf = parseFeedbackReport(text);
          assert.ok(arf.recipients.length <= MAX_REPORT_RECIPIENTS);
          assert.ok((arf.type ?? '').length <= MAX_FIELD_CHARS);
          parseSesNotification(`notificationType ${text}`);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('DSN fields as a generator writes them are read back, however folded', () => {
    const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    const recipient = fc.record({
      local: fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/),
      domain: fc.stringMatching(/^[a-z0-9]{1,10}\.(?:com|net|jp|test)$/),
      status: fc.constantFrom('5.1.1', '4.2.2', '5.7.1', '4.4.7', '5.0.0'),
      words: fc.array(word, { minLength: 1, maxLength: 30 }),
      fold: fc.integer({ min: 1, max: 8 }),
    });
    fc.assert(
      fc.property(fc.array(recipient, { minLength: 1, maxLength: 8 }), (recipients) => {
        const groups = recipients.map(({ local, domain, status, words, fold }) => {
          const lines = [
            `Final-Recipient: rfc822; ${local}@${domain}`,
            'Action: failed',
            `Status: ${status}`,
          ];
          const folded = words.map((w, i) => (i > 0 && i % fold === 0 ? `\n    ${w}` : ` ${w}`)).join('');
          lines.push(`Diagnostic-Code: smtp;${folded}`);
          return lines.join('\n');
        });
        const report = parseDeliveryStatus(`Reporting-MTA: dns; mx.test\n\n${groups.join('\n\n')}\n`);
        assert.equal(report.reportingMta, 'mx.test');
        assert.deepEqual(
          report.recipients.map((r) => [r.address, r.status, r.diagnostic]),
          recipients.map((r) => [`${r.local}@${r.domain}`, r.status, r.words.join(' ')]),
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('ARF fields as a generator writes them are read back', () => {
    const address = fc
      .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,20}$/), fc.stringMatching(/^[a-z0-9]{1,10}\.test$/))
      .map(([local, domain]) => `${local}@${domain}`);
    fc.assert(
      fc.property(
        fc.constantFrom('abuse', 'fraud', 'virus', 'other', 'not-spam', 'auth-failure', 'opt-out'),
        fc.uniqueArray(address, { minLength: 1, maxLength: 5 }),
        (type, rcpts) => {
          const text = [
            `Feedback-Type: ${type}`,
            'User-Agent: fuzz/1.0',
            'Version: 1',
            ...rcpts.map((r, i) => (i % 2 ? `Removal-Recipient: ${r}` : `Original-Rcpt-To: <${r}>`)),
          ].join('\n');
          const report = parseFeedbackReport(text);
          assert.equal(report.type, type);
          assert.deepEqual(report.recipients, rcpts);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
  test('the linear substring search agrees with indexOf and split/join', () => {
    const text = (max: number) => fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: max });
    fc.assert(
      fc.property(text(600), text(150), fc.nat({ max: 700 }), (haystack, needle, from) => {
        assert.equal(findText(haystack, needle, from), haystack.indexOf(needle, from));
        if (needle !== '') assert.equal(replaceText(haystack, needle, '|'), haystack.split(needle).join('|'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Patterns past the native-search length go through KMP: place them, maybe altered, in the text.
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 65, maxLength: 160 });
    fc.assert(
      fc.property(
        text(300),
        pattern,
        text(300),
        fc.nat(),
        fc.boolean(),
        (before, needle, after, at, flip) => {
          const placed = flip
            ? `${needle.slice(0, at % needle.length)}c${needle.slice((at % needle.length) + 1)}`
            : needle;
          const haystack = `${before}${placed}${after}${placed}${before}`;
          assert.equal(findText(haystack, needle), haystack.indexOf(needle));
          assert.equal(findText(haystack, needle, at % 900), haystack.indexOf(needle, at % 900));
          assert.equal(replaceText(haystack, needle, '|'), haystack.split(needle).join('|'));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    const long = `${'a'.repeat(100)}b${'a'.repeat(100)}`;
    const haystack = `${'a'.repeat(5_000)}${long}${'a'.repeat(5_000)}`;
    assert.equal(findText(haystack, long), 5_000);
    assert.equal(replaceText(haystack, long, '|'), `${'a'.repeat(5_000)}|${'a'.repeat(5_000)}`);
  });
});
