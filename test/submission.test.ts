/**
 * End to end: the relay's SMTP submission policy (relay access by AUTH or trusted network, AUTH
 * PLAIN/LOGIN with plain and hashed passwords, size / recipient / syntax limits, STARTTLS) and
 * its HTTP endpoints (/healthz, /readyz with Redis up and down, /metrics after a delivery).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '@herald/delivery-core';
import { sampleMessage } from './lib/message.js';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'app@origin.test';
const APP = { user: 'app', pass: 'secret' };
const HASHED = { user: 'hashed', pass: 'correct horse battery staple' };
const MAX_MESSAGE_BYTES = 10_000;

function body(subject: string): Buffer {
  return sampleMessage({ subject });
}

describe('relay access for an untrusted client', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: {
          trusted_networks: [],
          users: [
            { username: APP.user, password: APP.pass },
            {
              username: HASHED.user,
              password_hash: await hashPassword(HASHED.pass),
              tenant: 'hashed-tenant',
            },
          ],
        },
      },
    });
  });
  after(() => stack.stop());

  it('refuses MAIL FROM without AUTH with 530 5.7.0', async () => {
    const sent = await stack.submit({ from: SENDER, to: ['refused@example.test'], body: body('no auth') });
    assert.equal(sent.ok, false);
    assert.equal(sent.command, 'MAIL FROM');
    assert.match(sent.response, /^530 5\.7\.0 /);
    assert.equal(
      stack.events.ofType('accepted').filter((e) => e.recipients.includes('refused@example.test')).length,
      0,
    );
  });

  it('accepts and delivers the same message after AUTH PLAIN', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['plain@example.test'],
      body: body('plain'),
      auth: APP,
    });
    assert.equal(sent.code, 250, sent.response);
    const accepted = await stack.events.accepted(sent.queueId!);
    assert.equal(accepted.tenant, 'app', 'the tenant defaults to the username');
    assert.equal((await stack.events.terminal('plain@example.test')).type, 'delivered');
    const message = stack.sinks[0]!.messages.find((m) => m.to.includes('plain@example.test'));
    assert.match(message!.raw.toString(), /with ESMTPA id /);
  });

  it('refuses a wrong password with 535 5.7.8, and MAIL FROM stays refused', async () => {
    const client = await stack.client();
    try {
      const auth = await client.login({ ...APP, pass: 'wrong' });
      assert.equal(auth.ok, false);
      assert.equal(auth.command, 'AUTH PLAIN');
      assert.match(auth.response, /^535 5\.7\.8 /);
      const sent = await client.send({ from: SENDER, to: ['wrongpw@example.test'] }, body('wrong password'));
      assert.match(sent.response, /^530 5\.7\.0 /);
    } finally {
      client.close();
    }
  });

  it('accepts AUTH LOGIN too, and refuses it with a wrong password', async () => {
    const wrong = await stack.submit({
      from: SENDER,
      to: ['login@example.test'],
      body: body('login'),
      auth: { ...APP, pass: 'nope', method: 'LOGIN' },
    });
    assert.equal(wrong.command, 'AUTH LOGIN');
    assert.match(wrong.response, /^535 5\.7\.8 /);
    const sent = await stack.submit({
      from: SENDER,
      to: ['login@example.test'],
      body: body('login'),
      auth: { ...APP, method: 'LOGIN' },
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('login@example.test')).type, 'delivered');
  });

  it('authenticates a user configured with a password_hash', async () => {
    const wrong = await stack.submit({
      from: SENDER,
      to: ['hashed@example.test'],
      body: body('hash'),
      auth: { ...HASHED, pass: 'wrong' },
    });
    assert.match(wrong.response, /^535 5\.7\.8 /);
    const sent = await stack.submit({
      from: SENDER,
      to: ['hashed@example.test'],
      body: body('hash'),
      auth: HASHED,
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.accepted(sent.queueId!)).tenant, 'hashed-tenant');
    assert.equal((await stack.events.terminal('hashed@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('relay access for a trusted network', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { smtp: { trusted_networks: ['127.0.0.5/32'] } } });
  });
  after(() => stack.stop());

  it('lets a client from a trusted network relay without AUTH, and no other client', async () => {
    const trusted = await stack.submit({
      localAddress: '127.0.0.5',
      from: SENDER,
      to: ['trusted@example.test'],
      body: body('trusted'),
    });
    assert.equal(trusted.code, 250, trusted.response);
    const accepted = await stack.events.accepted(trusted.queueId!);
    assert.equal(accepted.client, '127.0.0.5');
    assert.equal((await stack.events.terminal('trusted@example.test')).type, 'delivered');

    const outsider = await stack.submit({
      localAddress: '127.0.0.1',
      from: SENDER,
      to: ['outsider@example.test'],
      body: body('outsider'),
    });
    assert.match(outsider.response, /^530 5\.7\.0 /);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('submission limits', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { smtp: { max_message_size: MAX_MESSAGE_BYTES, max_recipients: 2 } },
    });
  });
  after(() => stack.stop());

  it('refuses a message over smtp.max_message_size with 552 5.3.4', async () => {
    const big = sampleMessage({
      subject: 'too big',
      lines: Array.from({ length: 200 }, () => 'x'.repeat(76)),
    });
    assert.ok(big.length > MAX_MESSAGE_BYTES);
    const sent = await stack.submit({ from: SENDER, to: ['big@example.test'], body: big });
    assert.equal(sent.ok, false);
    assert.match(sent.response, /^552 5\.3\.4 /);
    assert.equal(
      stack.events.ofType('accepted').filter((e) => e.recipients.includes('big@example.test')).length,
      0,
    );
  });

  it('refuses a declared SIZE= over the limit at MAIL FROM with 552 5.3.4', async () => {
    const { client, greeting } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
    try {
      assert.equal(greeting.code, 220);
      const ehlo = await client.command('EHLO client.herald.test');
      assert.ok(
        ehlo.lines.some(
          (l) => l === `250 SIZE ${MAX_MESSAGE_BYTES}` || l === `250-SIZE ${MAX_MESSAGE_BYTES}`,
        ),
        ehlo.text,
      );
      const mail = await client.command(`MAIL FROM:<${SENDER}> SIZE=${MAX_MESSAGE_BYTES + 1}`);
      assert.match(mail.text, /^552 5\.3\.4 /);
    } finally {
      client.close();
    }
  });

  it('answers 452 4.5.3 to the RCPT beyond smtp.max_recipients and delivers to the others', async () => {
    const to = ['r1@example.test', 'r2@example.test', 'r3@example.test'];
    const sent = await stack.submit({ from: SENDER, to, body: body('recipients') });
    assert.equal(sent.code, 250, sent.response);
    assert.deepEqual(sent.accepted, ['r1@example.test', 'r2@example.test']);
    assert.deepEqual(sent.rejected, ['r3@example.test']);
    assert.match(sent.rejectedResponses[0]!, /^452 4\.5\.3 /);
    const accepted = await stack.events.accepted(sent.queueId!);
    assert.deepEqual(accepted.recipients, ['r1@example.test', 'r2@example.test']);
    for (const r of ['r1@example.test', 'r2@example.test'])
      assert.equal((await stack.events.terminal(r)).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('refuses recipient addresses with bad syntax with 5.1.3', async () => {
    // Herald's own policy (the listener's parser lets these through): 553 5.1.3.
    for (const address of ['a,b@example.test', `${'l'.repeat(65)}@example.test`]) {
      const sent = await stack.submit({ from: SENDER, to: [address], body: body('bad rcpt') });
      assert.equal(sent.ok, false, address);
      assert.match(sent.rejectedResponses[0] ?? '', /^553 5\.1\.3 /, address);
    }
    // Caught earlier by the listener's address parser: 501, with the same enhanced code.
    const parsed = await stack.submit({ from: SENDER, to: ['no-at-sign'], body: body('bad rcpt') });
    assert.match(parsed.rejectedResponses[0] ?? '', /^5\d\d 5\.1\.3 /);
  });

  it('refuses envelope addresses whose bytes are not UTF-8 (never spools them as U+FFFD)', async () => {
    // smtp-server decodes a command as UTF-8, so 0xFF arrives as U+FFFD: a different address
    // than the client wrote, which would be delivered (and bounced) as that.
    const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
    try {
      await client.command('EHLO client.herald.test');
      const reply = async (bytes: Buffer) => {
        const next = client.read();
        client.write(bytes);
        return next;
      };
      const line = (...parts: (string | number[])[]) =>
        Buffer.concat([...parts.map((p) => Buffer.from(typeof p === 'string' ? p : p)), Buffer.from('\r\n')]);
      const mail = await reply(line('MAIL FROM:<a', [0xff, 0xfe], '@origin.test> SMTPUTF8'));
      assert.match(mail.text, /^553 5\.1\.7 /);
      assert.equal((await client.command(`MAIL FROM:<${SENDER}> SMTPUTF8`)).code, 250);
      const overlong = await reply(line('RCPT TO:<', [0xc0, 0xaf], '@example.test>'));
      assert.match(overlong.text, /^553 5\.1\.3 /);
      const utf8 = await reply(line('RCPT TO:<j\u00f6rg@example.test>'));
      assert.equal(utf8.code, 250, 'well-formed UTF-8 is still taken');
    } finally {
      client.close();
    }
  });
});

describe('STARTTLS', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { smtp: { tls: { self_signed: true } } } });
  });
  after(() => stack.stop());

  it('offers STARTTLS with a self-signed certificate and accepts mail over it', async () => {
    const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
    try {
      const ehlo = await client.command('EHLO client.herald.test');
      assert.ok(
        ehlo.lines.some((l) => /^250[- ]STARTTLS$/.test(l)),
        ehlo.text,
      );
    } finally {
      client.close();
    }
    const tls = await stack.client({ starttls: true });
    try {
      assert.equal(tls.secure, true);
      const sent = await tls.send({ from: SENDER, to: ['tls@example.test'] }, body('tls'));
      assert.equal(sent.code, 250, sent.response);
    } finally {
      tls.close();
    }
    assert.equal((await stack.events.terminal('tls@example.test')).type, 'delivered');
    const [message] = await stack.sinks[0]!.waitForMessages(1);
    assert.match(message!.raw.toString(), /with ESMTPS id /);
  });
});

describe('HTTP endpoints', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.stop());

  it('answers /healthz and /readyz with 200', async () => {
    assert.equal((await stack.get('/healthz')).status, 200);
    const ready = await stack.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.body).ready, true);
  });

  it('counts accepted and delivered messages in /metrics', async () => {
    const sent = await stack.submit({ from: SENDER, to: ['metrics@example.test'], body: body('metrics') });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('metrics@example.test')).type, 'delivered');
    const metrics = await stack.get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^herald_messages_accepted_total\{source="smtp"\} 1$/m);
    assert.match(metrics.body, /^herald_messages_delivered_total 1$/m);
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('answers /readyz with 503 while Redis is down, and 200 again after it is back', async () => {
    await stack.redis.kill();
    try {
      const down = await stack.get('/readyz');
      assert.equal(down.status, 503);
      assert.equal(JSON.parse(down.body).redis, false);
      assert.equal((await stack.get('/healthz')).status, 200, 'liveness does not depend on Redis');
    } finally {
      await stack.redis.restart();
    }
    await waitUntil(
      '/readyz 200 after the Redis restart',
      async () => (await stack.get('/readyz')).status === 200,
    );
  });
});
