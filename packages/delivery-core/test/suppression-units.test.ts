import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CsvParser,
  type CsvRecord,
  defaultExpiry,
  entryToCsv,
  formatCsvRow,
  SOFT_REASON_TTL_MS,
  suppressedEvent,
  suppressionReply,
} from '@herald/delivery-core/suppression';

const DAY_MS = 86_400_000;
const AT = Date.UTC(2025, 0, 10);

function parseAll(text: string, chunkSize = text.length): CsvRecord[] {
  const parser = new CsvParser();
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += chunkSize) out.push(...parser.push(text.slice(i, i + chunkSize)));
  return [...out, ...parser.end()];
}

describe('suppression expiry per reason', () => {
  it('gives soft reasons an expiry from the table and hard ones none', () => {
    assert.equal(defaultExpiry('mailboxfull', AT), AT + 7 * DAY_MS);
    assert.equal(defaultExpiry('suspend', AT), AT + 30 * DAY_MS);
    for (const [reason, ttl] of Object.entries(SOFT_REASON_TTL_MS)) {
      assert.equal(defaultExpiry(reason, AT), AT + ttl, reason);
      assert.ok(ttl > 0 && ttl <= 30 * DAY_MS, `${reason}: a soft suppression lasts at most a month`);
    }
    for (const hard of ['userunknown', 'hostunknown', 'hasmoved', 'feedback', 'unsubscribed', 'toString'])
      assert.equal(defaultExpiry(hard, AT), undefined, hard);
  });
});

describe('suppression CSV', () => {
  it('quotes fields only when needed and doubles quotes', () => {
    assert.equal(formatCsvRow(['a@b.example', 'userunknown']), 'a@b.example,userunknown\r\n');
    assert.equal(formatCsvRow(['"odd,one"@b.example', ' x']), '"""odd,one""@b.example"," x"\r\n');
    assert.equal(
      entryToCsv({
        address: 'a@b.example',
        reason: 'mailboxfull',
        source: 'bounce',
        at: AT,
        expiresAt: AT + DAY_MS,
      }),
      'a@b.example,mailboxfull,bounce,2025-01-10T00:00:00.000Z,2025-01-11T00:00:00.000Z\r\n',
    );
    assert.equal(
      entryToCsv({ address: 'a@b.example', reason: 'feedback', source: 'complaint', at: AT }),
      'a@b.example,feedback,complaint,2025-01-10T00:00:00.000Z,never\r\n',
    );
  });

  it('reads what it writes, in chunks of any size, CRLF or LF', () => {
    const rows = [
      ['address', 'reason'],
      ['"quoted,local"@example.com', 'userunknown'],
      ['multi\nline@example.com', 'x'],
      ['plain@example.com', ''],
    ];
    const text = rows.map(formatCsvRow).join('');
    for (const size of [1, 2, 7, text.length]) {
      assert.deepEqual(
        parseAll(text, size).map((r) => ('fields' in r ? r.fields : r.problem)),
        rows,
        `chunks of ${size}`,
      );
    }
    assert.deepEqual(parseAll('a,b\nc,d'), [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c', 'd'] },
    ]);
  });

  it('reports bad records with their line numbers and goes on', () => {
    const text =
      'address\n"ok@x.example"\nbad"quote@x.example\n"closed"junk\n\ngood@x.example\n"never closed\n';
    assert.deepEqual(parseAll(text), [
      { line: 1, fields: ['address'] },
      { line: 2, fields: ['ok@x.example'] },
      { line: 3, problem: 'a quote inside an unquoted field' },
      { line: 4, problem: 'unexpected character after a closing quote' },
      { line: 6, fields: ['good@x.example'] },
      { line: 7, problem: 'unterminated quoted field' },
    ]);
  });

  it('refuses a record longer than the limit without buffering the rest of the line', () => {
    const records = parseAll(`${'x'.repeat(10_000)}\nnext@x.example\n`, 1_000);
    assert.deepEqual(records, [
      { line: 1, problem: 'record too long' },
      { line: 2, fields: ['next@x.example'] },
    ]);
  });
});

describe('suppression at intake', () => {
  it('answers 550 5.7.1 with the reason and writes a terminal suppressed event', () => {
    const entry = { address: 'gone@example.com', reason: 'userunknown', source: 'bounce' as const, at: AT };
    assert.deepEqual(suppressionReply('Gone@example.com', entry), {
      code: 550,
      enhanced: '5.7.1',
      text: '<Gone@example.com>: recipient suppressed (userunknown)',
    });
    const event = suppressedEvent({
      messageId: 'm1',
      tenant: 'acme',
      time: AT,
      recipient: { address: 'Gone@example.com', entry },
      stream: 'bulk',
    });
    assert.equal(event.type, 'suppressed');
    assert.equal(event.domain, 'example.com');
    assert.equal(event.attempt, 0);
    assert.equal(event.reply.code, 550);
    assert.equal(event.stream, 'bulk');
    assert.equal('campaign' in event, false);
  });
});
