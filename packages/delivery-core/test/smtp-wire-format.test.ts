/**
 * The outbound client's parsers and encoders, pure: the reply reader (multi-line replies, any
 * chunking, caps on hostile input, linear time) and the DATA encoding (dot-stuffing, bare LF as
 * CRLF, the end of data), with example cases and property-based fuzzing (fast-check, fixed seed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DATA_MIN_TRANSFER_BYTES_PER_S,
  dataDeadlineMs,
  encodeData,
  encodeDataParts,
  ZERO_COPY_MIN_BYTES,
} from '../src/smtp/data-encoding.js';
import { parseReply, toSmtpReply } from '../src/smtp/reply.js';
import {
  MAX_REPLY_LINE_OCTETS,
  type RawReply,
  ReplyProtocolError,
  ReplyReader,
} from '../src/smtp/reply-reader.js';

import { timeGrowth } from './fixtures/growth.js';

const SEED = 20261202;
/** 8× the input: linear work takes about 8× the time, quadratic about 64×. */
const MAX_GROWTH = 24;
const RUNS = 300;

function readAll(chunks: Buffer[]): RawReply[] {
  const reader = new ReplyReader();
  return chunks.flatMap((chunk) => reader.push(chunk));
}

/** Splits `bytes` at the given cut points (any order, out of range ignored). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    parts.push(bytes.subarray(from, point));
    from = point;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

/** Undoes the DATA encoding: drops the end of data and one leading dot per line. */
function decodeData(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'ends with <CRLF>.<CRLF>');
  const content = text === '.\r\n' ? '' : text.slice(0, -3);
  return Buffer.from(
    content
      .split('\r\n')
      .map((line) => (line.startsWith('.') ? line.slice(1) : line))
      .join('\r\n'),
    'latin1',
  );
}

describe('reply reader', () => {
  it('reads multi-line replies, bare codes, LF-only line ends, several replies per chunk', () => {
    const replies = readAll([
      Buffer.from('250-mx.test hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n354\n550 5.1.1 no\r\n'),
    ]);
    assert.deepEqual(replies, [
      { code: 250, lines: ['mx.test hello', 'PIPELINING', 'SIZE 1000'] },
      { code: 354, lines: [''] },
      { code: 550, lines: ['5.1.1 no'] },
    ]);
    assert.deepEqual(toSmtpReply(replies[2]!, 'rcpt', 'mx'), {
      code: 550,
      enhanced: '5.1.1',
      text: 'no',
      stage: 'rcpt',
      host: 'mx',
    });
  });

  it('refuses a line over the cap, a reply of too many lines and a line without a code', () => {
    assert.throws(() => readAll([Buffer.alloc(MAX_REPLY_LINE_OCTETS + 1, 0x41)]), ReplyProtocolError);
    assert.throws(() => readAll([Buffer.from(`250-x\r\n`.repeat(250))]), /more than 200 lines/);
    assert.throws(() => readAll([Buffer.from('hello there\r\n')]), /malformed reply line/);
    assert.throws(() => readAll([Buffer.from('2500 x\r\n')]), /malformed reply line/);
  });

  it('refuses a multi-line reply whose lines carry different codes (RFC 5321 §4.2.1)', () => {
    // A "250-ok" then "554 no" after the final dot must not read as delivered (attack finding).
    assert.throws(
      () => readAll([Buffer.from('250-ok\r\n554 5.7.1 but no\r\n')]),
      /multi-line reply changes its code from 250 to 554/,
    );
    assert.throws(() => readAll([Buffer.from('250-ok\r\n'), Buffer.from('251 x\r\n')]), ReplyProtocolError);
  });

  it('gives the same replies however the bytes are split (fuzzed)', () => {
    const line = fc.tuple(
      fc.integer({ min: 200, max: 599 }),
      fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ' ')),
    );
    const reply = fc.array(line, { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (replies, cuts) => {
          const wire = replies
            .map((lines) =>
              lines
                .map(([, text], i) => `${lines[0]![0]}${i < lines.length - 1 ? '-' : ' '}${text}\r\n`)
                .join(''),
            )
            .join('');
          const bytes = Buffer.from(wire, 'utf8');
          const whole = readAll([bytes]);
          assert.deepEqual(readAll(split(bytes, cuts)), whole);
          assert.equal(whole.length, replies.length);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never throws anything but ReplyProtocolError on arbitrary bytes (fuzzed)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, cuts) => {
          try {
            for (const reply of readAll(split(Buffer.from(bytes), cuts))) {
              assert.ok(reply.code >= 200 && reply.code <= 599);
              toSmtpReply(reply, 'rcpt');
            }
          } catch (err) {
            assert.ok(err instanceof ReplyProtocolError, String(err));
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('takes time linear in the input, even fed one byte at a time', () => {
    const feed = (replies: number) => {
      const bytes = Buffer.from(
        '250-continued line of an ordinary length\r\n'.repeat(199).concat('250 end\r\n').repeat(replies),
      );
      return () => {
        const reader = new ReplyReader();
        for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
      };
    };
    // 8× the input: linear is about 8×, quadratic about 64×.
    const ratio = timeGrowth(feed(5), feed(40), MAX_GROWTH);
    assert.ok(ratio < MAX_GROWTH, `8× the input took ${ratio.toFixed(1)}× the time`);
  });

  it('parseReply reads a reply given as text', () => {
    assert.deepEqual(parseReply('421-4.7.0 Try again later,\n421 4.7.0 closing connection', 'data', 'mx'), {
      code: 421,
      enhanced: '4.7.0',
      text: 'Try again later, closing connection',
      stage: 'data',
      host: 'mx',
    });
  });
});

describe('DATA encoding', () => {
  it('doubles leading dots, sends bare LF as CRLF and ends with <CRLF>.<CRLF>', () => {
    const cases: [string, string][] = [
      ['a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
      ['.x\n..y\r\n.\r\nz', '..x\r\n...y\r\n..\r\nz\r\n.\r\n'],
      ['no end', 'no end\r\n.\r\n'],
      ['ends on CR\r', 'ends on CR\r\n.\r\n'],
      ['', '.\r\n'],
      ['\n.\n', '\r\n..\r\n.\r\n'],
    ];
    for (const [body, wire] of cases)
      assert.equal(encodeData(Buffer.from(body)).toString(), wire, JSON.stringify(body));
  });

  it('round-trips any body with CRLF line ends, and never ends the data early (fuzzed)', () => {
    const text = fc
      .array(fc.constantFrom('a', '.', '\r\n', '\n', '\r', ' ', 'é', '..'), { maxLength: 200 })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(text, (body) => {
        const input = Buffer.from(body, 'latin1');
        const wire = encodeData(input);
        const early = wire.indexOf('\r\n.\r\n');
        assert.ok(early < 0 || early === wire.length - 5, 'the end of data appears only at the end');
        // The receiver sees the body with every bare LF as CRLF (a final bare CR gets its LF).
        let expected = body.replace(/(?<!\r)\n/g, '\r\n');
        if (expected.endsWith('\r')) expected += '\n';
        else if (expected !== '' && !expected.endsWith('\r\n')) expected += '\r\n';
        assert.equal(decodeData(wire).toString('latin1'), expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('gives the same bytes as parts, large unchanged runs as views of the body (fuzzed)', () => {
    const piece = fc.constantFrom('a', '.', '\r\n', '\n', '\r', '..', 'x'.repeat(ZERO_COPY_MIN_BYTES));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const body = Buffer.from(pieces.join(''), 'latin1');
        const parts = encodeDataParts(body);
        assert.deepEqual(Buffer.concat(parts), encodeData(body));
        for (const part of parts)
          if (part.length >= ZERO_COPY_MIN_BYTES)
            assert.equal(part.buffer, body.buffer, 'a large run is a view of the body, not a copy');
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('sends a large CRLF body without a leading dot from the body itself, a small one as one buffer', () => {
    const line = `${'y'.repeat(76)}\r\n`;
    const large = Buffer.from(line.repeat(20_000));
    const parts = encodeDataParts(large);
    assert.equal(parts.length, 2, 'the body and the end of data');
    assert.equal(parts[0]!.buffer, large.buffer);
    assert.equal(parts[0]!.length, large.length);
    assert.equal(parts[1]!.toString(), '.\r\n');
    const small = Buffer.from('Subject: x\r\n\r\n.dot\r\n');
    assert.deepEqual(encodeDataParts(small), [encodeData(small)]);
  });

  it("gives a body's transfer time at the minimum rate on top of data_timeout", () => {
    assert.equal(dataDeadlineMs(600_000, 0), 600_000);
    assert.equal(dataDeadlineMs(600_000, DATA_MIN_TRANSFER_BYTES_PER_S * 200), 800_000);
    assert.equal(dataDeadlineMs(5_000, 2048), 5_008);
  });
});
