/**
 * The pure parts behind the chaos sink: the client input splitter (commands, bodies, the final dot
 * across chunk boundaries), the seeded chaos generator (same seed, same fates, whatever the order),
 * and the per-recipient verdicts derived from transcripts (pipelined MAIL failures, several
 * transactions, duplicates).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientInput } from '../src/client-input.js';
import {
  type ConnectionTranscript,
  createChaos,
  createPrng,
  recipientTruth,
  replyWith,
  type StageContext,
  type TranscriptEntry,
} from '../src/index.js';

describe('ClientInput', () => {
  it('splits pipelined commands, then a body whose final dot is split across chunks', () => {
    const input = new ClientInput();
    const first = input.push(Buffer.from('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDA'));
    assert.deepEqual(
      first.map((p) => (p.kind === 'command' ? p.line : p.kind)),
      ['MAIL FROM:<a@b>', 'RCPT TO:<c@d>'],
    );
    const data = input.push(Buffer.from('TA\r\n'));
    assert.deepEqual(
      data.map((p) => (p.kind === 'command' ? p.line : p.kind)),
      ['DATA'],
    );
    input.startBody();
    const body = input.push(Buffer.from('line\r\n..dot\r\n\r'));
    assert.deepEqual(
      body.map((p) => [p.kind, p.kind === 'body' && p.end]),
      [['body', false]],
    );
    const end = input.push(Buffer.from('\n.\r\nQUIT\r\n'));
    assert.deepEqual(
      end.map((p) => (p.kind === 'command' ? p.line : `${p.kind}:${p.bytes.toString()}`)),
      ['body:\n.\r\n', 'QUIT'],
    );
  });

  it('an empty body ends at a first line of "."', () => {
    const input = new ClientInput();
    input.startBody();
    const pieces = input.push(Buffer.from('.\r\nRSET\r\n'));
    assert.deepEqual(
      pieces.map((p) => (p.kind === 'body' ? ['body', p.end] : ['command', p.kind === 'command' && p.line])),
      [
        ['body', true],
        ['command', 'RSET'],
      ],
    );
  });

  it('an overlong line is passed on raw and becomes one <overlong> command', () => {
    const input = new ClientInput();
    const pieces = [
      ...input.push(Buffer.alloc(70 * 1024, 0x41)),
      ...input.push(Buffer.from('AAA\r\nNOOP\r\n')),
    ];
    assert.deepEqual(
      pieces.map((p) => (p.kind === 'command' ? p.line : p.kind)),
      ['raw', '<overlong>', 'NOOP'],
    );
  });
});

describe('createChaos', () => {
  const ctx = (stage: StageContext['stage'], address: string): StageContext => ({
    stage,
    connection: 1,
    transaction: 1,
    command: '',
    address,
    recipients: [address],
    clientAddress: '127.0.0.1',
  });
  const options = {
    seed: 42,
    stages: { rcpt: [{ weight: 1 }, { weight: 1, behaviour: replyWith(450, '4.2.0', 'later') }] },
  };

  it('gives each recipient the same sequence of fates for a seed, whatever the order', () => {
    const recipients = Array.from({ length: 50 }, (_, i) => `r${i}@x.test`);
    const a = createChaos(options);
    const b = createChaos(options);
    const forward = recipients.map((r) => [a.rule(ctx('rcpt', r))?.kind, a.rule(ctx('rcpt', r))?.kind]);
    const backward = [...recipients]
      .reverse()
      .map((r) => [b.rule(ctx('rcpt', r))?.kind, b.rule(ctx('rcpt', r))?.kind])
      .reverse();
    assert.deepEqual(forward, backward);
    const other = createChaos({ ...options, seed: 43 });
    assert.notDeepEqual(
      recipients.map((r) => other.rule(ctx('rcpt', r))?.kind),
      recipients.map((r) => createChaos(options).rule(ctx('rcpt', r))?.kind),
    );
  });

  it('follows the weights, and counts its picks', () => {
    const chaos = createChaos(options);
    for (let i = 0; i < 2000; i++) chaos.rule(ctx('rcpt', `r${i}@x.test`));
    const picks = chaos.picks();
    assert.equal((picks['rcpt normal'] ?? 0) + (picks['rcpt 450'] ?? 0), 2000);
    assert.ok(Math.abs((picks['rcpt 450'] ?? 0) - 1000) < 120, JSON.stringify(picks));
    assert.equal(chaos.rule(ctx('greeting', '')), undefined, 'stages without weights: normal');
  });

  it('createPrng is deterministic and uniform enough', () => {
    const next = createPrng(7);
    const again = createPrng(7);
    const values = Array.from({ length: 1000 }, () => next());
    assert.deepEqual(
      values.slice(0, 5),
      Array.from({ length: 5 }, () => again()),
    );
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05);
  });
});

describe('recipientTruth', () => {
  let t = 0;
  const written = (stage: TranscriptEntry['stage'], code: number, address?: string): TranscriptEntry => ({
    stage,
    command: stage,
    at: ++t,
    fate: { kind: 'written', code, text: `${code} x`, at: ++t },
    ...(address ? { address } : {}),
  });
  const connection = (n: number, entries: TranscriptEntry[], closedAt?: number): ConnectionTranscript => ({
    connection: n,
    clientAddress: '127.0.0.1',
    openedAt: 0,
    entries,
    ...(closedAt ? { closedAt } : {}),
  });

  it('a failed MAIL decides for pipelined recipients, not their 503s', () => {
    const truth = recipientTruth([
      connection(1, [written('mail', 451), written('rcpt', 503, 'a@x'), written('data', 503)]),
    ]);
    assert.deepEqual(truth.get('a@x')?.last?.reply?.code, 451);
    assert.equal(truth.get('a@x')?.last?.stage, 'mail');
  });

  it('verdicts in time order across connections; accepted twice is a duplicate', () => {
    const accepted = (n: number) =>
      connection(n, [
        written('mail', 250),
        written('rcpt', 250, 'A@X'),
        written('data', 354),
        { ...written('dataEnd', 250), received: true },
      ]);
    const deferred = connection(1, [written('mail', 250), written('rcpt', 450, 'a@x')]);
    const [second, third] = [accepted(2), accepted(3)];
    const truth = recipientTruth([third, deferred, second]).get('a@x');
    assert.deepEqual(
      truth?.verdicts.map((v) => [v.connection, v.accepted]),
      [
        [1, false],
        [2, true],
        [3, true],
      ],
    );
    assert.equal(truth?.accepted, 2);
    assert.equal(truth?.received, 2);
    assert.deepEqual(
      truth?.verdicts[1]?.replies.map((r) => `${r.stage} ${r.code}`),
      ['mail 250', 'rcpt 250', 'data 354', 'dataEnd 250'],
      'every reply written for it',
    );
  });

  it('a transaction that ends before DATA is abandoned; a connection cut mid-reply is unanswered', () => {
    const unanswered: TranscriptEntry = { stage: 'dataEnd', command: '.', at: ++t, received: true };
    const truth = recipientTruth([
      connection(1, [written('mail', 250), written('rcpt', 250, 'a@x'), written('rset', 250)], ++t),
      connection(
        2,
        [written('mail', 250), written('rcpt', 250, 'b@x'), written('data', 354), unanswered],
        ++t,
      ),
    ]);
    assert.deepEqual([truth.get('a@x')?.last?.failure, truth.get('a@x')?.last?.stage], ['abandoned', 'data']);
    assert.deepEqual(
      [truth.get('b@x')?.last?.failure, truth.get('b@x')?.last?.received],
      ['unanswered', true],
    );
  });
});
