/**
 * Every chaos behaviour at every stage that has a reply, from a raw socket: a scripted 451 (the
 * connection stays up, except at the greeting, which smtp-server refuses and closes), a 421 and
 * close, drop, a stall for N ms (then the normal reply), a stall forever (nothing, until the client
 * leaves; the transcript says unanswered), and a drip (the normal reply, byte by byte).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  DROP,
  drip,
  replyAndClose,
  replyWith,
  type SinkBehaviour,
  type SinkStage,
  type SmtpSinkHandle,
  STALL_FOREVER,
  stallFor,
  startSmtpSink,
} from '../src/index.js';
import { RawClient } from './raw-client.js';

const STALL_MS = 200;
const SILENCE_MS = 300;
const DRIP_MS = 3;

/** How to reach a stage, the command that opens it, and its normal reply code. */
const STAGES: { stage: SinkStage; before: string[]; send: string; normal: number }[] = [
  { stage: 'greeting', before: [], send: '', normal: 220 },
  { stage: 'ehlo', before: [], send: 'EHLO client.test', normal: 250 },
  { stage: 'mail', before: ['EHLO client.test'], send: 'MAIL FROM:<s@origin.test>', normal: 250 },
  { stage: 'rcpt', before: ['EHLO c', 'MAIL FROM:<s@o.test>'], send: 'RCPT TO:<a@x.test>', normal: 250 },
  {
    stage: 'data',
    before: ['EHLO c', 'MAIL FROM:<s@o.test>', 'RCPT TO:<a@x.test>'],
    send: 'DATA',
    normal: 354,
  },
  {
    stage: 'dataEnd',
    before: ['EHLO c', 'MAIL FROM:<s@o.test>', 'RCPT TO:<a@x.test>', 'DATA'],
    send: 'Subject: x\r\n\r\nhi\r\n.',
    normal: 250,
  },
  { stage: 'rset', before: ['EHLO client.test'], send: 'RSET', normal: 250 },
  { stage: 'quit', before: ['EHLO client.test'], send: 'QUIT', normal: 221 },
];

const sinks: SmtpSinkHandle[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(sinks.map((s) => s.close()));
});

/** Opens a sink with `behaviour` at `stage`, walks up to it and sends its command. */
async function reach(spec: (typeof STAGES)[number], behaviour: SinkBehaviour) {
  const sink = await startSmtpSink({ script: { stages: { [spec.stage]: behaviour } } });
  sinks.push(sink);
  const client = await RawClient.connect(sink.host, sink.port);
  clients.push(client);
  if (spec.stage !== 'greeting') {
    assert.match(await client.reply(), /^220 /);
    for (const line of spec.before) assert.match(await client.command(line), /^[23]\d\d[ -]/);
    client.write(`${spec.send}\r\n`);
  }
  return { sink, client, sentAt: Date.now() };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const lastFate = (sink: SmtpSinkHandle) => {
  const entries = sink.transcripts()[0]?.entries.filter((e) => e.stage !== 'other') ?? [];
  return entries.at(-1)?.fate?.kind;
};

for (const spec of STAGES) {
  describe(`at ${spec.stage}`, () => {
    it('a scripted 451 is what the client gets', async () => {
      const { client } = await reach(spec, replyWith(451, '4.3.0', 'chaos says later'));
      assert.equal(await client.reply(), '451 4.3.0 chaos says later');
      if (spec.stage === 'greeting') await client.waitEnded();
      else assert.match(await client.command('NOOP'), /^\d{3} /, 'the connection is still up');
    });

    it('421 and close: the reply, then FIN', async () => {
      const { client } = await reach(spec, replyAndClose(421, '4.7.0', 'closing'));
      assert.equal(await client.reply(), '421 4.7.0 closing');
      await client.waitEnded();
    });

    it('drop: no reply, the connection is gone', async () => {
      const { client, sink } = await reach(spec, DROP);
      await client.waitEnded();
      assert.equal(client.unread, '');
      assert.equal(lastFate(sink), 'dropped');
    });

    it('stall for N ms: the normal reply, no sooner', async () => {
      const { client, sentAt } = await reach(spec, stallFor(STALL_MS));
      assert.ok((await client.reply()).startsWith(String(spec.normal)));
      assert.ok(Date.now() - sentAt >= STALL_MS - 20, 'held back');
    });

    it('stall forever: nothing until the client leaves; the transcript says unanswered', async () => {
      const { client, sink } = await reach(spec, STALL_FOREVER);
      assert.ok(await client.silentFor(SILENCE_MS));
      client.destroy();
      await until(() => sink.stats().activeConnections === 0, 'released at the sink');
      assert.equal(lastFate(sink), 'unanswered');
    });

    it('drip: the normal reply, byte by byte', async () => {
      const { client, sink } = await reach(spec, drip(DRIP_MS));
      const before = client.chunks.length;
      const reply = await client.reply();
      assert.ok(reply.startsWith(String(spec.normal)));
      const chunks = client.chunks.length - before;
      assert.ok(chunks >= Math.min(reply.length, 20) / 2, `${chunks} chunks for ${reply.length} bytes`);
      assert.equal(lastFate(sink), 'written');
    });
  });
}
