/**
 * The sink's chaos behaviours from DATA on, seen from a raw socket: the 354, the body, the reply to
 * the final dot, RSET and QUIT; and the ground truth they leave (only a 2xx written in full after
 * the dot accepts; a message received and then dropped or stalled is `received`, not accepted).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  DROP,
  drip,
  replyAndClose,
  replyWith,
  type SinkScript,
  type SmtpSinkHandle,
  STALL_FOREVER,
  type StageContext,
  stallFor,
  startSmtpSink,
} from '../src/index.js';
import { RawClient } from './raw-client.js';

const STALL_MS = 300;
const SILENCE_MS = 400;
const DRIP_MS = 15;
const SLOW_DRIP_MS = 200;
const TO = 'a@example.test';
const BODY = 'Subject: t\r\n\r\nhello\r\n.';

const sinks: SmtpSinkHandle[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(sinks.map((s) => s.close()));
});

async function greeted(script: SinkScript): Promise<{ sink: SmtpSinkHandle; client: RawClient }> {
  const sink = await startSmtpSink({ script });
  sinks.push(sink);
  const client = await RawClient.connect(sink.host, sink.port);
  clients.push(client);
  assert.match(await client.reply(), /^220 /);
  assert.match(await client.command('EHLO client.test'), /^250[ -]/);
  return { sink, client };
}

async function toData(client: RawClient): Promise<string> {
  assert.match(await client.command('MAIL FROM:<s@origin.test>'), /^250 /);
  assert.match(await client.command(`RCPT TO:<${TO}>`), /^250 /);
  return client.command('DATA');
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('DATA and the body', () => {
  it('DATA 451 without close: no data mode; RSET and a new transaction work', async () => {
    const data = (c: StageContext) => (c.transaction === 1 ? replyWith(451, '4.3.0', 'not now') : undefined);
    const { client, sink } = await greeted({ stages: { data } });
    assert.equal(await toData(client), '451 4.3.0 not now');
    assert.match(await client.command('RSET'), /^250 /);
    assert.match(await toData(client), /^354 /);
    assert.match(await client.command(BODY), /^250 /);
    assert.equal(sink.messages.length, 1);
    const verdicts = sink.truth().get(TO)?.verdicts ?? [];
    assert.deepEqual(
      verdicts.map((v) => [v.stage, v.accepted, v.reply?.code]),
      [
        ['data', false, 451],
        ['dataEnd', true, 250],
      ],
    );
  });

  it('body drop: destroyed before the final dot, nothing received', async () => {
    const { client, sink } = await greeted({ stages: { body: DROP } });
    assert.match(await toData(client), /^354 /);
    client.write('Subject: t\r\n\r\nfirst part\r\n');
    await client.waitEnded();
    assert.equal(sink.messages.length, 0);
    assert.deepEqual(sink.truth().get(TO)?.last, {
      ...sink.truth().get(TO)?.last,
      stage: 'body',
      accepted: false,
      failure: 'dropped',
      received: false,
    });
  });
});

describe('the reply to the final dot', () => {
  it('421 and close (as Gmail does): the reply, then FIN; received, not accepted', async () => {
    const { client, sink } = await greeted({
      stages: { dataEnd: replyAndClose(421, '4.7.0', 'Try again later, closing connection') },
    });
    assert.match(await toData(client), /^354 /);
    assert.equal(await client.command(BODY), '421 4.7.0 Try again later, closing connection');
    await client.waitEnded();
    assert.equal(sink.messages.length, 0);
    const last = sink.truth().get(TO)?.last;
    assert.equal(last?.accepted, false);
    assert.equal(last?.reply?.code, 421);
    assert.equal(last?.received, true);
  });

  it('drop after the dot: the whole message arrived, no reply was written (the classic duplicate)', async () => {
    const { client, sink } = await greeted({ stages: { dataEnd: DROP } });
    await toData(client);
    client.write(`${BODY}\r\n`);
    await client.waitEnded();
    assert.equal(client.unread, '');
    assert.equal(sink.messages.length, 0, 'not counted as accepted');
    const truth = sink.truth().get(TO);
    assert.equal(truth?.accepted, 0);
    assert.equal(truth?.received, 1);
    assert.equal(truth?.last?.failure, 'dropped');
  });

  it('stall for N ms then 250: accepted once the 250 is written', async () => {
    const { client, sink } = await greeted({ stages: { dataEnd: stallFor(STALL_MS) } });
    await toData(client);
    client.write(`${BODY}\r\n`);
    assert.ok(await client.silentFor(STALL_MS / 2));
    assert.equal(sink.messages.length, 0, 'not accepted while the reply is held');
    assert.match(await client.reply(), /^250 /);
    assert.equal(sink.messages.length, 1);
    assert.equal(sink.truth().get(TO)?.accepted, 1);
  });

  it('stall forever: a client that gives up leaves it received, unanswered, not accepted', async () => {
    const { client, sink } = await greeted({ stages: { dataEnd: STALL_FOREVER } });
    await toData(client);
    client.write(`${BODY}\r\n`);
    assert.ok(await client.silentFor(SILENCE_MS));
    client.destroy();
    await until(() => sink.stats().activeConnections === 0, 'released at the sink');
    const last = sink.truth().get(TO)?.last;
    assert.deepEqual([last?.failure, last?.received, last?.accepted], ['unanswered', true, false]);
  });

  it('drip: the 250 arrives byte by byte and accepts once complete', async () => {
    const { client, sink } = await greeted({ stages: { dataEnd: drip(DRIP_MS) } });
    await toData(client);
    const before = client.chunks.length;
    client.write(`${BODY}\r\n`);
    const reply = await client.reply();
    assert.match(reply, /^250 /);
    assert.ok(client.chunks.length - before >= (reply.length + 2) / 2);
    assert.equal(sink.truth().get(TO)?.accepted, 1);
  });

  it('a drip cut short by the client is partial and accepts nothing', async () => {
    const { client, sink } = await greeted({ stages: { dataEnd: drip(SLOW_DRIP_MS) } });
    await toData(client);
    client.write(`${BODY}\r\n`);
    await until(() => client.unread.length >= 2, 'two bytes');
    client.destroy();
    await until(() => sink.stats().activeConnections === 0, 'released at the sink');
    const last = sink.truth().get(TO)?.last;
    assert.equal(last?.failure, 'partial');
    assert.equal(sink.messages.length, 0);
  });

  it('a 421 reply with close: false keeps the socket open until the client leaves', async () => {
    const { client, sink } = await greeted({
      stages: {
        dataEnd: { kind: 'reply', reply: { code: 421, enhanced: '4.4.2', text: 'bye?' }, close: false },
      },
    });
    await toData(client);
    assert.equal(await client.command(BODY), '421 4.4.2 bye?');
    assert.ok(await client.silentFor(SILENCE_MS), 'no FIN from the sink');
    client.destroy();
    await until(() => sink.stats().activeConnections === 0, 'released at the sink');
  });
});

describe('RSET and QUIT', () => {
  it('RSET 421 and close', async () => {
    const { client } = await greeted({ stages: { rset: replyAndClose(421, '4.7.0', 'enough') } });
    assert.equal(await client.command('RSET'), '421 4.7.0 enough');
    await client.waitEnded();
  });

  it('QUIT stalled forever: no 221 and no FIN until the client closes', async () => {
    const { client, sink } = await greeted({ stages: { quit: STALL_FOREVER } });
    client.write('QUIT\r\n');
    assert.ok(await client.silentFor(SILENCE_MS), 'no 221, no FIN');
    client.destroy();
    await until(() => sink.stats().activeConnections === 0, 'released at the sink');
    assert.equal(sink.transcripts()[0]?.entries.at(-1)?.fate?.kind, 'unanswered');
  });

  it('QUIT dropped: reset without a 221', async () => {
    const { client } = await greeted({ stages: { quit: DROP } });
    client.write('QUIT\r\n');
    await client.waitEnded();
    assert.equal(client.unread, '');
  });

  it('close() ends stalled connections and settles their transcripts', async () => {
    const sink = await startSmtpSink({ script: { stages: { greeting: STALL_FOREVER } } });
    const client = await RawClient.connect(sink.host, sink.port);
    clients.push(client);
    await until(() => sink.stats().activeConnections === 1, 'connected');
    await sink.close();
    await client.waitEnded();
    await until(() => sink.transcripts()[0]?.closedAt !== undefined, 'transcript closed');
    assert.equal(sink.transcripts()[0]?.entries[0]?.fate?.kind, 'unanswered');
  });
});
