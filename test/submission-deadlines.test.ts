/**
 * End to end: deadlines of an SMTP session at the relay. A DATA phase that drips below
 * `smtp.data_min_rate` or runs past `smtp.data_timeout` is cut with 421 4.4.2 and nothing of it
 * is spooled; with the relay's Redis frozen (SIGSTOP by PID) the suppression lookup at RCPT and
 * the enqueue at DATA are answered 451 4.3.0 within `smtp.redis_timeout` instead of waiting for
 * the freeze. Every loop is bounded; the freeze is lifted (SIGCONT) in `finally`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { queueKeys } from '@herald/delivery-core/keys';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
/** Bounds of the dripping clients: they give up (and finish the message) after this many writes. */
const MAX_WRITES = 60;
const WRITE_INTERVAL_MS = 200;

async function openData(stack: Stack, recipient: string): Promise<RawSmtp> {
  const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
  await client.command('EHLO drip.test');
  assert.equal((await client.command(`MAIL FROM:<${SENDER}>`)).code, 250);
  assert.equal((await client.command(`RCPT TO:<${recipient}>`)).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write(`From: ${SENDER}\r\nSubject: drip\r\n\r\n`);
  return client;
}

/** Writes `chunk` every WRITE_INTERVAL_MS until the server answers or MAX_WRITES; then ends the message. */
async function drip(client: RawSmtp, chunk: string): Promise<string> {
  for (let i = 0; i < MAX_WRITES && !client.hasReply && !client.isEnded; i++) {
    client.write(chunk);
    await delay(WRITE_INTERVAL_MS);
  }
  client.write('\r\n.\r\n');
  return (await client.read()).text;
}

async function nothingSpooled(stack: Stack, recipient: string): Promise<void> {
  await stack.relay.herald.events.flush();
  const accepted = stack.events.ofType('accepted').filter((e) => e.recipients.includes(recipient));
  assert.deepEqual(accepted, [], 'no accepted event');
  assert.deepEqual(
    await stack.redisClient.keys(queueKeys(stack.relay.herald.config.redis.prefix).body('*')),
    [],
    'no body in the spool',
  );
}

describe('DATA deadlines', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: { data_timeout: '3s', data_min_rate: 100, data_rate_grace: '1s', socket_timeout: '30s' },
      },
    });
  });
  after(() => stack.stop());

  it('a DATA phase dripping one byte at a time is cut with 421 4.4.2 below smtp.data_min_rate', async () => {
    const client = await openData(stack, 'drip@example.test');
    try {
      assert.match(await drip(client, 'x'), /^421 4\.4\.2 /);
      await client.ended;
    } finally {
      client.close();
    }
    await nothingSpooled(stack, 'drip@example.test');
  });

  it('a DATA phase still running at smtp.data_timeout is cut with 421 4.4.2', async () => {
    const client = await openData(stack, 'endless@example.test');
    try {
      // 1,000 bytes every 200 ms: far above the minimum rate, but it never ends.
      assert.match(await drip(client, `${'y'.repeat(98)}\r\n`.repeat(10)), /^421 4\.4\.2 /);
      await client.ended;
    } finally {
      client.close();
    }
    await nothingSpooled(stack, 'endless@example.test');
  });
});

describe('Redis calls in a session have a deadline', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { smtp: { redis_timeout: '500ms' } } });
  });
  after(() => stack.stop());

  async function frozen<T>(run: () => Promise<T>): Promise<T> {
    process.kill(stack.redis.pid, 'SIGSTOP');
    try {
      return await run();
    } finally {
      process.kill(stack.redis.pid, 'SIGCONT');
    }
  }

  it('with Redis frozen, RCPT (the suppression lookup) is answered 451 4.3.0', async () => {
    const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
    try {
      await client.command('EHLO frozen.test');
      assert.equal((await client.command(`MAIL FROM:<${SENDER}>`)).code, 250);
      const rcpt = await frozen(() => client.command('RCPT TO:<frozen-rcpt@example.test>'));
      assert.match(rcpt.text, /^451 4\.3\.0 /);
    } finally {
      client.close();
    }
  });

  it('with Redis frozen at the end of DATA, the enqueue is answered 451 4.3.0 (it may still land later)', async () => {
    const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
    try {
      await client.command('EHLO frozen.test');
      assert.equal((await client.command(`MAIL FROM:<${SENDER}>`)).code, 250);
      assert.equal((await client.command('RCPT TO:<frozen-data@example.test>')).code, 250);
      assert.equal((await client.command('DATA')).code, 354);
      const reply = await frozen(() => client.command(`From: ${SENDER}\r\nSubject: frozen\r\n\r\nbody\r\n.`));
      assert.match(reply.text, /^451 4\.3\.0 /);
    } finally {
      client.close();
    }
    // The MULTI/EXEC was sent before the deadline: once Redis resumes it completes, and the
    // message the client was told to retry is delivered (the usual SMTP duplicate), exactly once.
    assert.equal((await stack.events.terminal('frozen-data@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
