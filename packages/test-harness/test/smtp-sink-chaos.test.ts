/**
 * The sink's chaos behaviours, seen from a raw socket: at each stage a scripted reply (and close),
 * drop, stall and drip do what they say, smtp-server's session stays consistent with what the
 * client was told, and the transcript records what was actually written.
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
/** Long enough to tell "never" from "late" in these tests. */
const SILENCE_MS = 400;
const DRIP_MS = 15;
const BODY = 'Subject: t\r\n\r\nhello\r\n.';

const sinks: SmtpSinkHandle[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(sinks.map((s) => s.close()));
});

async function open(script: SinkScript): Promise<{ sink: SmtpSinkHandle; client: RawClient }> {
  const sink = await startSmtpSink({ script });
  sinks.push(sink);
  const client = await RawClient.connect(sink.host, sink.port);
  clients.push(client);
  return { sink, client };
}

async function greeted(script: SinkScript): Promise<{ sink: SmtpSinkHandle; client: RawClient }> {
  const opened = await open(script);
  assert.match(await opened.client.reply(), /^220 /);
  assert.match(await opened.client.command('EHLO client.test'), /^250[ -]/);
  return opened;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('greeting', () => {
  it('reply and close: "421 4.7.0 …" instead of 220, then FIN', async () => {
    const { client, sink } = await open({
      stages: { greeting: replyAndClose(421, '4.7.0', 'Try again later') },
    });
    assert.equal(await client.reply(), '421 4.7.0 Try again later');
    await client.waitEnded();
    assert.deepEqual(sink.transcripts()[0]?.entries[0]?.fate?.kind, 'written');
    assert.equal(sink.transcripts()[0]?.entries[0]?.closed, true);
  });

  it('drop: the connection is destroyed without a byte', async () => {
    const { client, sink } = await open({ stages: { greeting: DROP } });
    await client.waitEnded();
    assert.equal(client.chunks.length, 0);
    assert.equal(sink.transcripts()[0]?.entries[0]?.fate?.kind, 'dropped');
  });

  it('stall for N ms: the 220 comes no sooner', async () => {
    const { client } = await open({ stages: { greeting: stallFor(STALL_MS) } });
    const start = Date.now();
    assert.match(await client.reply(), /^220 /);
    assert.ok(Date.now() - start >= STALL_MS - 20, 'held back for the stall');
  });

  it('stall forever: nothing until the client gives up, then the sink lets go', async () => {
    const { client, sink } = await open({ stages: { greeting: STALL_FOREVER } });
    assert.ok(await client.silentFor(SILENCE_MS), 'no greeting');
    client.destroy();
    await until(() => sink.stats().activeConnections === 0, 'connection closed at the sink');
    assert.equal(sink.transcripts()[0]?.entries[0]?.fate?.kind, 'unanswered');
  });

  it('drip: the greeting arrives one byte at a time', async () => {
    const { client } = await open({ stages: { greeting: drip(DRIP_MS) } });
    const greeting = await client.reply();
    assert.match(greeting, /^220 /);
    assert.ok(client.chunks.length >= (greeting.length + 2) / 2, `${client.chunks.length} chunks`);
    const span = client.chunks.at(-1)!.at - client.chunks[0]!.at;
    assert.ok(span >= (greeting.length - 1) * DRIP_MS * 0.8, `spread over ${span} ms`);
  });
});

describe('EHLO, MAIL, RCPT', () => {
  it('EHLO 550 keeps the connection; HELO then works (smtp-server never saw the EHLO)', async () => {
    const { client } = await open({
      stages: {
        ehlo: (c) => (c.command.startsWith('EHLO') ? replyWith(550, '5.5.1', 'no EHLO') : undefined),
      },
    });
    await client.reply();
    assert.equal(await client.command('EHLO client.test'), '550 5.5.1 no EHLO');
    assert.match(await client.command('HELO client.test'), /^250 /);
    assert.match(await client.command('MAIL FROM:<s@origin.test>'), /^250 /);
  });

  it('EHLO reply and close', async () => {
    const { client } = await open({ stages: { ehlo: replyAndClose(421, '4.3.2', 'shutting down') } });
    await client.reply();
    assert.equal(await client.command('EHLO client.test'), '421 4.3.2 shutting down');
    await client.waitEnded();
  });

  it('MAIL 451 leaves no transaction open: the next MAIL is accepted', async () => {
    const mail = (c: StageContext) => (c.transaction === 1 ? replyWith(451, '4.3.0', 'later') : undefined);
    const { client } = await greeted({ stages: { mail } });
    assert.equal(await client.command('MAIL FROM:<s@origin.test>'), '451 4.3.0 later');
    assert.match(await client.command('MAIL FROM:<s@origin.test>'), /^250 /);
  });

  it('RCPT replies per recipient; the message goes to the accepted one only', async () => {
    const rcpt = (c: { address?: string }) =>
      c.address === 'full@example.test' ? replyWith(452, '4.2.2', 'mailbox full') : undefined;
    const { client, sink } = await greeted({ stages: { rcpt } });
    await client.command('MAIL FROM:<s@origin.test>');
    assert.equal(await client.command('RCPT TO:<full@example.test>'), '452 4.2.2 mailbox full');
    assert.match(await client.command('RCPT TO:<ok@example.test>'), /^250 /);
    assert.match(await client.command('DATA'), /^354 /);
    assert.match(await client.command(BODY), /^250 /);
    assert.deepEqual(sink.messages[0]?.to, ['ok@example.test']);
    const truth = sink.truth();
    assert.equal(truth.get('ok@example.test')?.accepted, 1);
    assert.deepEqual(truth.get('full@example.test')?.last?.reply, {
      code: 452,
      text: '452 4.2.2 mailbox full',
    });
  });

  it('RCPT drop and RCPT stall forever', async () => {
    const dropped = await greeted({ stages: { rcpt: DROP } });
    await dropped.client.command('MAIL FROM:<s@origin.test>');
    dropped.client.write('RCPT TO:<a@example.test>\r\n');
    await dropped.client.waitEnded();
    assert.equal(dropped.client.unread, '');
    const stalled = await greeted({ stages: { rcpt: STALL_FOREVER } });
    await stalled.client.command('MAIL FROM:<s@origin.test>');
    stalled.client.write('RCPT TO:<a@example.test>\r\n');
    assert.ok(await stalled.client.silentFor(SILENCE_MS), 'no RCPT reply');
    stalled.client.destroy();
    await until(() => stalled.sink.stats().activeConnections === 0, 'stalled connection released');
    assert.equal(stalled.sink.truth().get('a@example.test')?.last?.failure, 'unanswered');
  });

  it('pipelined commands are answered in order when one reply is stalled', async () => {
    const rcpt = (c: { address?: string }) =>
      c.address === 'slow@example.test' ? stallFor(STALL_MS) : replyWith(550, '5.1.1', 'unknown');
    const { client } = await greeted({ stages: { rcpt } });
    client.write(
      'MAIL FROM:<s@origin.test>\r\nRCPT TO:<slow@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n',
    );
    const replies = [await client.reply(), await client.reply(), await client.reply(), await client.reply()];
    assert.deepEqual(
      replies.map((r) => r.slice(0, 3)),
      ['250', '250', '550', '354'],
    );
  });
});
