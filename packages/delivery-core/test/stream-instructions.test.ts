import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../src/config/index.js';
import { takeInstructions, trafficName } from '../src/message/index.js';
import { DEFAULT_STREAM, OTHER_STREAM_PRIORITY, storedStream, streamPriority } from '../src/queue/index.js';

/** A submitted message: folded Subject, a body line that looks like an instruction header. */
function message(instructions: string[], eol = '\r\n'): Buffer {
  const head = [
    'From: Shop <news@shop.test>',
    'To: someone@example.test',
    ...instructions,
    'Subject: Spring sale,',
    '\tthis week only',
    'Message-ID: <spring-1@shop.test>',
  ];
  const body = ['Hello,', '', 'X-Herald-Stream: not-a-header-here', 'Bye.'];
  return Buffer.from(`${head.join(eol)}${eol}${eol}${body.join(eol)}${eol}`, 'utf8');
}

function taken(raw: Buffer) {
  const result = takeInstructions(raw);
  assert.ok(result.ok, 'instructions accepted');
  return result;
}

describe('instruction headers at intake', () => {
  it('takes stream and campaign out of a CRLF message, keeping every other byte', () => {
    const result = taken(message(['X-Herald-Stream: Bulk', 'X-Herald-Campaign: spring-2026']));
    assert.equal(result.stream, 'bulk', 'names are lower-cased');
    assert.equal(result.campaign, 'spring-2026');
    assert.deepEqual(result.body, message([]));
  });

  it('removes folded instruction headers with their continuation lines', () => {
    const result = taken(
      message(['x-herald-stream:', ' newsletters', 'X-HERALD-CAMPAIGN :\t', '\tQ2.promo']),
    );
    assert.equal(result.stream, 'newsletters');
    assert.equal(result.campaign, 'q2.promo');
    assert.deepEqual(result.body, message([]));
  });

  it('handles bare LF line ends', () => {
    const result = taken(message(['X-Herald-Stream: bulk'], '\n'));
    assert.equal(result.stream, 'bulk');
    assert.deepEqual(result.body, message([], '\n'));
  });

  it('returns the same buffer when there is no instruction header, and ignores the body', () => {
    const raw = message([]);
    const result = taken(raw);
    assert.equal(result.body, raw, 'no copy');
    assert.equal(result.stream, undefined);
    assert.equal(result.campaign, undefined);
  });

  it('does not mistake look-alike header names for instructions', () => {
    const raw = message([
      'X-Herald-Streams: bulk',
      'X-Herald-Campaign-Id: 7',
      'X-Herald: yes',
      'X-Herald\rStream: b',
    ]);
    const result = taken(raw);
    assert.equal(result.body, raw);
    assert.equal(result.stream, undefined);
  });

  it('takes a header on the last line of a message without a body', () => {
    const result = taken(Buffer.from('Subject: x\r\nX-Herald-Stream: bulk'));
    assert.equal(result.stream, 'bulk');
    assert.equal(result.body.toString(), 'Subject: x\r\n');
  });

  it('refuses an invalid name, naming the header', () => {
    for (const value of ['', 'two words', 'a/b', 'x'.repeat(65), 'ünï']) {
      const result = takeInstructions(message([`X-Herald-Stream: ${value}`]));
      assert.equal(result.ok, false, JSON.stringify(value));
      assert.ok(!result.ok && result.problem.startsWith('invalid X-Herald-Stream header: expected 1-64'));
    }
    const campaign = takeInstructions(message(['X-Herald-Campaign: spring sale']));
    assert.ok(!campaign.ok && campaign.header === 'X-Herald-Campaign');
  });

  it('accepts a repeated header naming the same value, and refuses conflicting ones', () => {
    const same = taken(message(['X-Herald-Stream: bulk', 'x-herald-stream: BULK']));
    assert.equal(same.stream, 'bulk');
    assert.deepEqual(same.body, message([]), 'every occurrence is removed');
    const conflict = takeInstructions(message(['X-Herald-Stream: bulk', 'X-Herald-Stream: transactional']));
    assert.deepEqual(conflict, {
      ok: false,
      header: 'X-Herald-Stream',
      problem: 'conflicting X-Herald-Stream headers',
    });
  });

  it('traffic names are 1-64 characters of A-Z a-z 0-9 _ . -, lower-cased', () => {
    assert.equal(trafficName('Spring_2026.v-2'), 'spring_2026.v-2');
    assert.equal(trafficName('x'.repeat(64)), 'x'.repeat(64));
    assert.equal(trafficName('x'.repeat(65)), undefined);
    assert.equal(trafficName('a b'), undefined);
    assert.equal(trafficName(''), undefined);
  });
});

describe('stream priorities', () => {
  it('transactional (or no stream) has no BullMQ priority; bulk comes after any other stream', () => {
    assert.equal(streamPriority(undefined), 0);
    assert.equal(streamPriority(DEFAULT_STREAM), 0);
    assert.equal(streamPriority('newsletters'), OTHER_STREAM_PRIORITY);
    assert.equal(streamPriority('bulk'), 10);
    assert.ok(streamPriority('bulk') > OTHER_STREAM_PRIORITY);
    assert.equal(streamPriority('constructor'), OTHER_STREAM_PRIORITY, 'no prototype keys');
  });

  it('the default stream is stored as absent', () => {
    assert.equal(storedStream('transactional'), undefined);
    assert.equal(storedStream(undefined), undefined);
    assert.equal(storedStream('bulk'), 'bulk');
  });
});

describe('smtp.users[].stream', () => {
  const user = { username: 'shop', password: 'pw' };
  it('is optional and lower-cased', () => {
    const config = parseConfig({
      smtp: {
        users: [
          { ...user, stream: 'Bulk' },
          { ...user, username: 'app' },
        ],
      },
    });
    assert.equal(config.smtp.users[0]?.stream, 'bulk');
    assert.equal(config.smtp.users[1]?.stream, undefined);
  });

  it('rejects an invalid name with its key path', () => {
    assert.throws(
      () => parseConfig({ smtp: { users: [{ ...user, stream: 'spring sale' }] } }),
      (err: unknown) =>
        err instanceof ConfigError && /smtp\.users\[0\]\.stream: expected 1-64 characters/.test(err.message),
    );
  });
});
