/**
 * End to end: messages submitted to the relay over SMTP reach the right sinks through MX records
 * from the loopback DNS server, with the per-recipient outcomes recorded as events. Every test
 * ends with the audit "queue idle, and each accepted recipient has exactly one terminal event".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RELAY_HOSTNAME } from './lib/config.js';
import { sampleMessage, stripLeadingFields } from './lib/message.js';
import { mxZone, NOTHING_LISTENS, type Stack, type StackOptions, startStack } from './lib/stack.js';

const SENDER = 'sender@origin.test';
const RFC5322_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

async function stackFor(
  t: { after: (fn: () => Promise<void>) => void },
  opts: StackOptions = {},
): Promise<Stack> {
  const stack = await startStack(opts);
  t.after(() => stack.stop());
  return stack;
}

function sinkAt(stack: Stack, host: string) {
  const sink = stack.sinks.find((s) => s.host === host);
  assert.ok(sink, `a sink on ${host}`);
  return sink;
}

describe('delivery through MX', () => {
  it('delivers to the MX from DNS, adding only Received, Message-ID and Date to the body', async (t) => {
    const stack = await stackFor(t);
    const body = sampleMessage({ subject: 'byte for byte' });
    const sent = await stack.submit({ from: SENDER, to: ['someone@example.test'], body });
    assert.equal(sent.code, 250, sent.response);
    assert.ok(sent.queueId, `a queue id in "${sent.response}"`);

    const [received] = await stack.sinks[0]!.waitForMessages(1);
    assert.equal(received!.from, SENDER);
    assert.deepEqual(received!.to, ['someone@example.test']);
    const { fields, rest } = stripLeadingFields(received!.raw, ['Received', 'Message-ID', 'Date']);
    assert.ok(
      rest.equals(body),
      `body after the added headers differs:\n${rest.toString()}\n---\n${body.toString()}`,
    );
    const [receivedField, messageIdField, dateField] = fields;
    assert.match(
      receivedField!,
      new RegExp(`by ${RELAY_HOSTNAME} \\(Herald\\) with ESMTP id ${sent.queueId}`),
    );
    assert.match(receivedField!, /for <someone@example\.test>;/);
    assert.equal(messageIdField, `Message-ID: <${sent.queueId}@${RELAY_HOSTNAME}>`);
    assert.match(dateField!.replace(/^Date: /, ''), RFC5322_DATE);

    const delivered = await stack.events.terminal('someone@example.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.messageId, sent.queueId);
    assert.equal(delivered.reply.code, 250);
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it("keeps the client's own Message-ID and Date: only Received is added", async (t) => {
    const stack = await stackFor(t);
    const body = sampleMessage({
      subject: 'own ids',
      headers: ['Message-ID: <mine-1@origin.test>', 'Date: Mon, 02 Mar 2026 10:00:00 +0100'],
    });
    const sent = await stack.submit({ from: SENDER, to: ['someone@example.test'], body });
    assert.equal(sent.code, 250, sent.response);
    const [received] = await stack.sinks[0]!.waitForMessages(1);
    const { rest } = stripLeadingFields(received!.raw, ['Received']);
    assert.ok(rest.equals(body), `body after Received differs:\n${rest.toString()}`);
    assert.equal((await stack.events.terminal('someone@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('splits three recipients at two domains into two jobs, one transaction per domain', async (t) => {
    const stack = await stackFor(t, {
      sinks: ['127.0.0.2', '127.0.0.3'],
      zone: {
        ...mxZone('one.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('two.test', [{ preference: 10, address: '127.0.0.3' }]),
      },
    });
    const recipients = ['a@one.test', 'c@two.test', 'b@one.test'];
    const sent = await stack.submit({
      from: SENDER,
      to: recipients,
      body: sampleMessage({ subject: 'two domains' }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.deepEqual(sent.accepted, recipients);

    const accepted = await stack.events.accepted(sent.queueId!);
    assert.equal(accepted.jobs, 2);
    const [one] = await sinkAt(stack, '127.0.0.2').waitForMessages(1);
    const [two] = await sinkAt(stack, '127.0.0.3').waitForMessages(1);
    assert.deepEqual([...one!.to].sort(), ['a@one.test', 'b@one.test']);
    assert.deepEqual(two!.to, ['c@two.test']);
    assert.equal(sinkAt(stack, '127.0.0.2').stats().transactions, 1);
    assert.equal(sinkAt(stack, '127.0.0.3').stats().transactions, 1);
    for (const r of recipients) assert.equal((await stack.events.terminal(r)).type, 'delivered', r);
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.events.ofType('delivered').length, 3);
  });

  it('sends to the MX with the lowest preference value', async (t) => {
    const stack = await stackFor(t, {
      sinks: ['127.0.0.2', '127.0.0.3'],
      // Listed worst-first so that zone order cannot be what picks the host.
      zone: mxZone('example.test', [
        { preference: 20, address: '127.0.0.3' },
        { preference: 10, address: '127.0.0.2' },
      ]),
    });
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@example.test'],
      body: sampleMessage({ subject: 'pref' }),
    });
    assert.equal(sent.code, 250, sent.response);
    await sinkAt(stack, '127.0.0.2').waitForMessages(1);
    const delivered = await stack.events.terminal('someone@example.test');
    assert.equal(delivered.type, 'delivered');
    const [attempt] = stack.events.attempts(sent.queueId!);
    assert.equal(attempt?.host?.address, '127.0.0.2');
    assert.equal(sinkAt(stack, '127.0.0.3').stats().connections, 0, 'the less preferred MX is not contacted');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('falls back to the next MX in the same attempt when the first refuses the connection', async (t) => {
    const stack = await stackFor(t, {
      sinks: ['127.0.0.3'],
      zone: mxZone('example.test', [
        { preference: 10, address: NOTHING_LISTENS },
        { preference: 20, address: '127.0.0.3' },
      ]),
    });
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@example.test'],
      body: sampleMessage({ subject: 'fallback' }),
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.sinks[0]!.waitForMessages(1);
    const delivered = await stack.events.terminal('someone@example.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 1);

    const attempts = stack.events.attempts(sent.queueId!);
    assert.equal(attempts.length, 1, 'one attempt covers both MX hosts');
    const [attempt] = attempts;
    assert.equal(attempt!.attempt, 1);
    assert.equal(attempt!.host?.address, '127.0.0.3');
    assert.equal(attempt!.hostErrors.length, 1);
    assert.equal(attempt!.hostErrors[0]!.address, NOTHING_LISTENS);
    assert.equal(attempt!.hostErrors[0]!.hostname, 'mx1.example.test');
    assert.equal(attempt!.hostErrors[0]!.reply.stage, 'connect');
    assert.equal(
      Math.floor(attempt!.hostErrors[0]!.reply.code / 100),
      4,
      'a refused connection is a temporary host error',
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('per-recipient outcomes', () => {
  it('delivers one recipient and bounces the other with 550 5.1.1 in the same transaction', async (t) => {
    const stack = await stackFor(t, {
      sinks: [
        {
          host: '127.0.0.2',
          script: { rcpt: { 'nobody@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
        },
      ],
    });
    const to = ['someone@example.test', 'nobody@example.test'];
    const sent = await stack.submit({ from: SENDER, to, body: sampleMessage({ subject: 'mixed' }) });
    assert.equal(sent.code, 250, sent.response);

    const [received] = await stack.sinks[0]!.waitForMessages(1);
    assert.deepEqual(received!.to, ['someone@example.test']);
    assert.equal(stack.sinks[0]!.stats().transactions, 1);
    const good = await stack.events.terminal('someone@example.test');
    const bad = await stack.events.terminal('nobody@example.test');
    assert.equal(good.type, 'delivered');
    assert.equal(bad.type, 'bounced');
    assert.equal(bad.reply.code, 550);
    assert.equal(bad.reply.enhanced, '5.1.1');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('defers on a 4xx reply and delivers on the retry', async (t) => {
    const stack = await stackFor(t, {
      sinks: [
        { host: '127.0.0.2', script: { data: { code: 451, enhanced: '4.3.0', text: 'try again later' } } },
      ],
      config: { retry: { schedule: ['1s'], jitter: 0 } },
    });
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@example.test'],
      body: sampleMessage({ subject: 'retry' }),
    });
    assert.equal(sent.code, 250, sent.response);

    const deferred = await stack.events.outcome('deferred', 'someone@example.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.3.0');
    assert.equal(deferred.attempt, 1);
    assert.ok(
      deferred.nextAttemptAt !== undefined && deferred.nextAttemptAt > deferred.time,
      'a next attempt is scheduled',
    );
    stack.sinks[0]!.setScript({});

    const delivered = await stack.events.terminal('someone@example.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 2);
    assert.ok(delivered.time >= deferred.nextAttemptAt!, 'the retry did not run before it was due');
    const [received] = await stack.sinks[0]!.waitForMessages(1);
    assert.deepEqual(received!.to, ['someone@example.test']);
    assert.deepEqual(
      stack.sinks[0]!.rejected.map((r) => r.stage),
      ['data'],
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('DNS outcomes', () => {
  it('bounces a domain with a null MX with 5.1.10 without connecting anywhere', async (t) => {
    const stack = await stackFor(t, { zone: { 'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] } } });
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@nullmx.test'],
      body: sampleMessage({ subject: 'null mx' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const bounced = await stack.events.terminal('someone@nullmx.test');
    assert.equal(bounced.type, 'bounced');
    assert.equal(bounced.reply.enhanced, '5.1.10');
    assert.equal(bounced.reply.code, 556);
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.sinks[0]!.stats().connections, 0);
  });

  it('bounces a domain that does not exist (NXDOMAIN) with 5.1.2', async (t) => {
    const stack = await stackFor(t);
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@missing.test'],
      body: sampleMessage({ subject: 'nxdomain' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const bounced = await stack.events.terminal('someone@missing.test');
    assert.equal(bounced.type, 'bounced');
    assert.equal(bounced.reply.code, 550);
    assert.equal(bounced.reply.enhanced, '5.1.2');
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.sinks[0]!.stats().connections, 0);
  });

  it('defers on SERVFAIL with 4.4.3 and delivers once DNS answers again', async (t) => {
    const stack = await stackFor(t, { zone: { 'flaky.test': { rcode: 'SERVFAIL' } } });
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@flaky.test'],
      body: sampleMessage({ subject: 'servfail' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const deferred = await stack.events.outcome('deferred', 'someone@flaky.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.4.3');
    assert.equal(stack.sinks[0]!.stats().connections, 0);

    stack.dns.setZone(mxZone('flaky.test', [{ preference: 10, address: '127.0.0.2' }]));
    const delivered = await stack.events.terminal('someone@flaky.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 2);
    await stack.sinks[0]!.waitForMessages(1);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
