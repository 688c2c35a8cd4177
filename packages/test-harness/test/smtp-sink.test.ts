import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { closedPort, type SmtpSinkHandle, type StartSmtpSinkOptions, startSmtpSink } from '../src/index.js';

const REPLY_TIMEOUT_MS = 5_000;
const POLL_MS = 10;

const sinks: SmtpSinkHandle[] = [];
async function sink(opts?: StartSmtpSinkOptions): Promise<SmtpSinkHandle> {
  const s = await startSmtpSink(opts);
  sinks.push(s);
  return s;
}
const clients: RawSmtp[] = [];
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(sinks.map((s) => s.close()));
});

/** A minimal raw SMTP client: reads whole (multi-line) replies exactly as they are on the wire. */
class RawSmtp {
  private buffer = '';
  private lines: string[] = [];
  private waiting: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.attach(socket);
  }

  static connect(host: string, port: number): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        const client = new RawSmtp(socket);
        clients.push(client);
        resolve(client);
      });
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      const parts = this.buffer.split('\r\n');
      this.buffer = parts.pop() ?? '';
      this.lines.push(...parts);
      this.waiting?.();
    });
    socket.on('close', () => this.waiting?.());
  }

  /** The next complete reply; multi-line replies are joined with "\n". Rejects if the peer closes. */
  async reply(): Promise<string> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const end = this.lines.findIndex((line) => /^\d{3}( |$)/.test(line));
      if (end >= 0) return this.lines.splice(0, end + 1).join('\n');
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no reply in time');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, POLL_MS);
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  async starttls(): Promise<void> {
    assert.match(await this.command('STARTTLS'), /^220 /);
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' }, () =>
        resolve(secure),
      );
      secure.once('error', reject);
    });
    this.attach(this.socket);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function greeted(s: SmtpSinkHandle): Promise<RawSmtp> {
  const client = await RawSmtp.connect(s.host, s.port);
  assert.match(await client.reply(), /^220 /);
  assert.match(await client.command('EHLO client.test'), /^250 /m);
  return client;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + REPLY_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

test('EHLO announces PIPELINING, 8BITMIME, SMTPUTF8 and SIZE, and no STARTTLS by default', async () => {
  const s = await sink({ size: 1000 });
  const client = await RawSmtp.connect(s.host, s.port);
  await client.reply();
  const ehlo = await client.command('EHLO client.test');
  for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE 1000']) {
    assert.match(ehlo, new RegExp(`^250[- ]${ext}$`, 'm'));
  }
  assert.doesNotMatch(ehlo, /STARTTLS/);
  assert.equal(s.address, `127.0.0.1:${s.port}`);
});

test('a message is recorded with its envelope and exact bytes (dot-unstuffed)', async () => {
  const s = await sink();
  const client = await greeted(s);
  assert.equal(await client.command('MAIL FROM:<sender@herald.test>'), '250 Accepted');
  assert.equal(await client.command('RCPT TO:<a@example.test>'), '250 Accepted');
  assert.equal(await client.command('RCPT TO:<b@example.test>'), '250 Accepted');
  assert.match(await client.command('DATA'), /^354 /);
  const body = Buffer.concat([
    Buffer.from('Subject: t\r\n\r\nline one\r\n..starts with a dot\r\nutf8 '),
    Buffer.from([0xc3, 0xa9]),
    Buffer.from('\r\n'),
  ]);
  client.write(Buffer.concat([body, Buffer.from('.\r\n')]));
  assert.match(await client.reply(), /^250 /);
  const [message] = await s.waitForMessages(1);
  assert.ok(message);
  assert.equal(message.from, 'sender@herald.test');
  assert.deepEqual(message.to, ['a@example.test', 'b@example.test']);
  assert.deepEqual(
    message.raw,
    Buffer.from(body.toString('latin1').replace('..starts', '.starts'), 'latin1'),
  );
  assert.equal(message.host, '127.0.0.1');
  assert.equal(typeof message.connectionId, 'string');
  assert.equal(s.stats().transactions, 1);
});

test('a scripted recipient gets "550 5.1.1" on the wire while another recipient gets 250', async () => {
  const s = await sink({
    script: { rcpt: { 'nobody@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
  });
  const client = await greeted(s);
  await client.command('MAIL FROM:<sender@herald.test>');
  assert.equal(await client.command('RCPT TO:<nobody@example.test>'), '550 5.1.1 no such user');
  assert.equal(await client.command('RCPT TO:<good@example.test>'), '250 Accepted');
  assert.match(await client.command('DATA'), /^354 /);
  assert.match(await client.command('Subject: x\r\n\r\nhi\r\n.'), /^250 /);
  const [message] = await s.waitForMessages(1);
  assert.deepEqual(message?.to, ['good@example.test']);
  assert.deepEqual(
    s.rejected.map(({ stage, address, reply }) => ({ stage, address, reply })),
    [
      {
        stage: 'rcpt',
        address: 'nobody@example.test',
        reply: { code: 550, enhanced: '5.1.1', text: 'no such user' },
      },
    ],
  );
});

test('a scripted data reply 451 4.3.0 is sent verbatim and the message is not recorded', async () => {
  const s = await sink({ script: { data: { code: 451, enhanced: '4.3.0', text: 'try again later' } } });
  const client = await greeted(s);
  await client.command('MAIL FROM:<sender@herald.test>');
  await client.command('RCPT TO:<a@example.test>');
  await client.command('DATA');
  assert.equal(await client.command('Subject: x\r\n\r\nhi\r\n.'), '451 4.3.0 try again later');
  assert.equal(s.messages.length, 0);
  assert.equal(s.rejected[0]?.stage, 'data');
  await assert.rejects(s.waitForMessages(1, 50), /expected 1 message\(s\) within 50 ms, got 0/);
});

test('a scripted 250 data reply and a MAIL rejection appear verbatim; setScript applies live', async () => {
  const s = await sink({ script: { data: { code: 250, enhanced: '2.0.0', text: 'queued as X1' } } });
  const client = await greeted(s);
  await client.command('MAIL FROM:<sender@herald.test>');
  await client.command('RCPT TO:<a@example.test>');
  await client.command('DATA');
  assert.equal(await client.command('hi\r\n.'), '250 2.0.0 queued as X1');
  s.setScript({
    mail: (from) =>
      from.endsWith('@blocked.test') ? { code: 553, enhanced: '5.7.1', text: 'no' } : undefined,
  });
  assert.equal(await client.command('MAIL FROM:<x@blocked.test>'), '553 5.7.1 no');
  assert.equal(await client.command('MAIL FROM:<x@fine.test>'), '250 Accepted');
  assert.deepEqual(s.rejected.at(-1), {
    stage: 'mail',
    address: 'x@blocked.test',
    reply: { code: 553, enhanced: '5.7.1', text: 'no' },
  });
  assert.equal(s.messages.length, 1);
});

test('a greeting 421 is sent instead of 220 and the connection is closed', async () => {
  const s = await sink({ script: { greeting: { code: 421, enhanced: '4.7.0', text: 'try later' } } });
  const client = await RawSmtp.connect(s.host, s.port);
  assert.equal(await client.reply(), '421 4.7.0 try later');
  await client.closed;
  assert.deepEqual(s.rejected, [
    { stage: 'greeting', reply: { code: 421, enhanced: '4.7.0', text: 'try later' } },
  ]);
  assert.equal(s.stats().connections, 1);
});

test('greetingDelayMs holds the 220 greeting back', async () => {
  const delayMs = 200;
  const s = await sink({ script: { greetingDelayMs: delayMs } });
  const startedAt = Date.now();
  const client = await RawSmtp.connect(s.host, s.port);
  assert.match(await client.reply(), /^220 /);
  assert.ok(Date.now() - startedAt >= delayMs - POLL_MS);
});

test('dropInData destroys the connection in the middle of DATA and records nothing', async () => {
  const s = await sink({ script: { dropInData: true } });
  const client = await greeted(s);
  await client.command('MAIL FROM:<sender@herald.test>');
  await client.command('RCPT TO:<a@example.test>');
  assert.match(await client.command('DATA'), /^354 /);
  client.write('Subject: x\r\n\r\nfirst part of the body\r\n');
  await client.closed;
  await assert.rejects(client.reply(), /connection closed/);
  assert.equal(s.messages.length, 0);
  await until(() => s.stats().activeConnections === 0);
});

test('stats count connections, active connections and the concurrency peak', async () => {
  const s = await sink();
  const opened = await Promise.all([greeted(s), greeted(s), greeted(s)]);
  assert.deepEqual(s.stats(), {
    connections: 3,
    activeConnections: 3,
    maxConcurrentConnections: 3,
    transactions: 0,
  });
  for (const c of opened) c.destroy();
  await until(() => s.stats().activeConnections === 0);
  await greeted(s);
  assert.deepEqual(s.stats(), {
    connections: 4,
    activeConnections: 1,
    maxConcurrentConnections: 3,
    transactions: 0,
  });
});

test('a sink on 127.0.0.3 accepts mail there', async () => {
  const s = await sink({ host: '127.0.0.3' });
  assert.equal(s.address, `127.0.0.3:${s.port}`);
  const client = await greeted(s);
  await client.command('MAIL FROM:<>');
  await client.command('RCPT TO:<a@example.test>');
  await client.command('DATA');
  await client.command('hi\r\n.');
  const [message] = await s.waitForMessages(1);
  assert.equal(message?.host, '127.0.0.3');
  assert.equal(message?.from, '');
});

test('STARTTLS is offered when asked for and mail flows over the upgraded connection', async () => {
  const s = await sink({ starttls: true });
  const client = await RawSmtp.connect(s.host, s.port);
  await client.reply();
  assert.match(await client.command('EHLO client.test'), /^250[- ]STARTTLS$/m);
  await client.starttls();
  assert.match(await client.command('EHLO client.test'), /^250 /m);
  await client.command('MAIL FROM:<sender@herald.test>');
  await client.command('RCPT TO:<a@example.test>');
  await client.command('DATA');
  assert.match(await client.command('secret\r\n.'), /^250 /);
  const [message] = await s.waitForMessages(1);
  assert.equal(message?.raw.toString(), 'secret\r\n');
});

test('closedPort returns a port that refuses connections', async () => {
  const port = await closedPort('127.0.0.2');
  const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.2', port });
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error('connected to a closed port'));
    });
    socket.once('error', resolve);
  });
  assert.equal(error.code, 'ECONNREFUSED');
});

test('close destroys open connections and rejects pending waits', async () => {
  const s = await startSmtpSink();
  const client = await greeted(s);
  const waiting = assert.rejects(s.waitForMessages(1), /closed while waiting/);
  await s.close();
  await client.closed;
  await waiting;
  await s.close();
});
