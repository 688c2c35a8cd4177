/**
 * End to end: messages submitted to the relay over SMTP reach the right sinks through MX records
 * from the loopback DNS server, with the per-recipient outcomes recorded as events. Every test
 * ends with the audit "queue idle, and each accepted recipient has exactly one terminal event".
 * The tests share one stack (two sinks, one DNS zone holding a domain per case): each test has
 * recipients and, where the MX set matters, a domain of its own, and reads the sinks' messages,
 * rejections and counters from what they were when it started.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SmtpSinkHandle, Zone } from '@herald/test-harness';
import { RELAY_HOSTNAME } from './lib/config.js';
import { sampleMessage, stripLeadingFields } from './lib/message.js';
import { mxZone, NOTHING_LISTENS, type Stack, startStack } from './lib/stack.js';

const SENDER = 'sender@origin.test';
const RFC5322_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/;
const FIRST = '127.0.0.2';
const SECOND = '127.0.0.3';

/** Every case's domain; `flaky.test` answers SERVFAIL until its test gives it an MX. */
const ZONE: Zone = {
  ...mxZone('example.test', [{ preference: 10, address: FIRST }]),
  ...mxZone('one.test', [{ preference: 10, address: FIRST }]),
  ...mxZone('two.test', [{ preference: 10, address: SECOND }]),
  // Listed worst-first so that zone order cannot be what picks the host.
  ...mxZone('pref.test', [
    { preference: 20, address: SECOND },
    { preference: 10, address: FIRST },
  ]),
  ...mxZone('fallback.test', [
    { preference: 10, address: NOTHING_LISTENS },
    { preference: 20, address: SECOND },
  ]),
  ...mxZone('backup.test', [
    { preference: 10, address: FIRST },
    { preference: 20, address: SECOND },
  ]),
  'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] },
  'flaky.test': { rcode: 'SERVFAIL' },
};

let stack: Stack;
before(async () => {
  stack = await startStack({ sinks: [FIRST, SECOND], zone: ZONE });
});
after(() => stack?.stop());

function sinkAt(host: string): SmtpSinkHandle {
  const sink = stack.sinks.find((s) => s.host === host);
  assert.ok(sink, `a sink on ${host}`);
  return sink;
}

/** What a sink saw from now on: its new messages, rejections and counter increments. */
function watch(host: string) {
  const sink = sinkAt(host);
  const start = { messages: sink.messages.length, rejected: sink.rejected.length, stats: sink.stats() };
  return {
    sink,
    /** Waits until `n` messages arrived since the watch began; returns them. */
    messages: async (n: number) => (await sink.waitForMessages(start.messages + n)).slice(start.messages),
    rejected: () => sink.rejected.slice(start.rejected),
    connections: () => sink.stats().connections - start.stats.connections,
    transactions: () => sink.stats().transactions - start.stats.transactions,
  };
}

describe('delivery through MX', () => {
  it('delivers to the MX from DNS, adding only Received, Message-ID and Date to the body', async () => {
    const first = watch(FIRST);
    const body = sampleMessage({ subject: 'byte for byte' });
    const sent = await stack.submit({ from: SENDER, to: ['someone@example.test'], body });
    assert.equal(sent.code, 250, sent.response);
    assert.ok(sent.queueId, `a queue id in "${sent.response}"`);

    const [received] = await first.messages(1);
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

  it("keeps the client's own Message-ID and Date: only Received is added", async () => {
    const first = watch(FIRST);
    const body = sampleMessage({
      subject: 'own ids',
      headers: ['Message-ID: <mine-1@origin.test>', 'Date: Mon, 02 Mar 2026 10:00:00 +0100'],
    });
    const sent = await stack.submit({ from: SENDER, to: ['own-ids@example.test'], body });
    assert.equal(sent.code, 250, sent.response);
    const [received] = await first.messages(1);
    assert.deepEqual(received!.to, ['own-ids@example.test']);
    const { rest } = stripLeadingFields(received!.raw, ['Received']);
    assert.ok(rest.equals(body), `body after Received differs:\n${rest.toString()}`);
    assert.equal((await stack.events.terminal('own-ids@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('splits three recipients at two domains into two jobs, one transaction per domain', async () => {
    const [first, second] = [watch(FIRST), watch(SECOND)];
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
    const [one] = await first.messages(1);
    const [two] = await second.messages(1);
    assert.deepEqual([...one!.to].sort(), ['a@one.test', 'b@one.test']);
    assert.deepEqual(two!.to, ['c@two.test']);
    assert.equal(first.transactions(), 1);
    assert.equal(second.transactions(), 1);
    for (const r of recipients) assert.equal((await stack.events.terminal(r)).type, 'delivered', r);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(events.filter((e) => e.type === 'delivered' && e.messageId === sent.queueId).length, 3);
  });

  it('sends to the MX with the lowest preference value', async () => {
    // pref.test's MX records are listed worst-first (ZONE).
    const [first, second] = [watch(FIRST), watch(SECOND)];
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@pref.test'],
      body: sampleMessage({ subject: 'pref' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const [received] = await first.messages(1);
    assert.deepEqual(received!.to, ['someone@pref.test']);
    const delivered = await stack.events.terminal('someone@pref.test');
    assert.equal(delivered.type, 'delivered');
    const [attempt] = stack.events.attempts(sent.queueId!);
    assert.equal(attempt?.host?.address, FIRST);
    assert.equal(second.connections(), 0, 'the less preferred MX is not contacted');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('falls back to the next MX in the same attempt when the first refuses the connection', async () => {
    // fallback.test: MX 10 where nothing listens, MX 20 the second sink (ZONE).
    const second = watch(SECOND);
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@fallback.test'],
      body: sampleMessage({ subject: 'fallback' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const [received] = await second.messages(1);
    assert.deepEqual(received!.to, ['someone@fallback.test']);
    const delivered = await stack.events.terminal('someone@fallback.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 1);

    const attempts = stack.events.attempts(sent.queueId!);
    assert.equal(attempts.length, 1, 'one attempt covers both MX hosts');
    const [attempt] = attempts;
    assert.equal(attempt!.attempt, 1);
    assert.equal(attempt!.host?.address, SECOND);
    assert.equal(attempt!.hostErrors.length, 1);
    assert.equal(attempt!.hostErrors[0]!.address, NOTHING_LISTENS);
    assert.equal(attempt!.hostErrors[0]!.hostname, 'mx1.fallback.test');
    assert.equal(attempt!.hostErrors[0]!.reply.stage, 'connect');
    assert.equal(
      Math.floor(attempt!.hostErrors[0]!.reply.code / 100),
      4,
      'a refused connection is a temporary host error',
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('a temporary failure at the first MX after the session is set up', () => {
  it('a 451 to the end of data moves on to the second MX in the same attempt, delivering once', async (t) => {
    // backup.test: MX 10 the first sink, MX 20 the second (ZONE).
    const [first, second] = [watch(FIRST), watch(SECOND)];
    const busy = { code: 451, enhanced: '4.3.0', text: 'queue busy, try again later' };
    first.sink.setScript({
      data: (msg) => (msg.to.some((to) => to.endsWith('@backup.test')) ? busy : undefined),
    });
    t.after(() => first.sink.setScript({}));
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@backup.test'],
      body: sampleMessage({ subject: 'backup mx' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const [received] = await second.messages(1);
    assert.deepEqual(received!.to, ['someone@backup.test']);
    const delivered = await stack.events.terminal('someone@backup.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 1);

    const [attempt, ...more] = stack.events.attempts(sent.queueId!);
    assert.equal(more.length, 0, 'one attempt covers both MX hosts');
    assert.equal(attempt!.host?.address, SECOND);
    assert.deepEqual(
      attempt!.hostErrors.map((e) => [e.hostname, e.reply.code, e.reply.stage]),
      [['mx1.backup.test', 451, 'data']],
    );
    assert.deepEqual(
      first.rejected().map((r) => r.stage),
      ['data'],
    );
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(sinkAt(FIRST).messages.filter((m) => m.to.includes('someone@backup.test')).length, 0);
  });
});

describe('per-recipient outcomes', () => {
  it('delivers one recipient and bounces the other with 550 5.1.1 in the same transaction', async (t) => {
    const first = watch(FIRST);
    first.sink.setScript({
      rcpt: { 'nobody@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } },
    });
    t.after(() => first.sink.setScript({}));
    const to = ['kept@example.test', 'nobody@example.test'];
    const sent = await stack.submit({ from: SENDER, to, body: sampleMessage({ subject: 'mixed' }) });
    assert.equal(sent.code, 250, sent.response);

    const [received] = await first.messages(1);
    assert.deepEqual(received!.to, ['kept@example.test']);
    assert.equal(first.transactions(), 1);
    const good = await stack.events.terminal('kept@example.test');
    const bad = await stack.events.terminal('nobody@example.test');
    assert.equal(good.type, 'delivered');
    assert.equal(bad.type, 'bounced');
    assert.equal(bad.reply.code, 550);
    assert.equal(bad.reply.enhanced, '5.1.1');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('defers on a 4xx reply and delivers on the retry', async (t) => {
    // The stack's retry schedule is one 1 s step without jitter (test/lib/config.ts).
    const first = watch(FIRST);
    first.sink.setScript({ data: { code: 451, enhanced: '4.3.0', text: 'try again later' } });
    t.after(() => first.sink.setScript({}));
    const sent = await stack.submit({
      from: SENDER,
      to: ['retry@example.test'],
      body: sampleMessage({ subject: 'retry' }),
    });
    assert.equal(sent.code, 250, sent.response);

    const deferred = await stack.events.outcome('deferred', 'retry@example.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.3.0');
    assert.equal(deferred.attempt, 1);
    assert.ok(
      deferred.nextAttemptAt !== undefined && deferred.nextAttemptAt > deferred.time,
      'a next attempt is scheduled',
    );
    first.sink.setScript({});

    const delivered = await stack.events.terminal('retry@example.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 2);
    assert.ok(delivered.time >= deferred.nextAttemptAt!, 'the retry did not run before it was due');
    const [received] = await first.messages(1);
    assert.deepEqual(received!.to, ['retry@example.test']);
    assert.deepEqual(
      first.rejected().map((r) => r.stage),
      ['data'],
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('DNS outcomes', () => {
  it('bounces a domain with a null MX with 5.1.10 without connecting anywhere', async () => {
    const [first, second] = [watch(FIRST), watch(SECOND)];
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
    assert.deepEqual([first.connections(), second.connections()], [0, 0]);
  });

  it('bounces a domain that does not exist (NXDOMAIN) with 5.1.2', async () => {
    const [first, second] = [watch(FIRST), watch(SECOND)];
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
    assert.deepEqual([first.connections(), second.connections()], [0, 0]);
  });

  it('defers on SERVFAIL with 4.4.3 and delivers once DNS answers again', async (t) => {
    const first = watch(FIRST);
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@flaky.test'],
      body: sampleMessage({ subject: 'servfail' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const deferred = await stack.events.outcome('deferred', 'someone@flaky.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.4.3');
    assert.equal(first.connections(), 0);

    stack.dns.setZone({ ...ZONE, ...mxZone('flaky.test', [{ preference: 10, address: FIRST }]) });
    t.after(() => stack.dns.setZone(ZONE));
    const delivered = await stack.events.terminal('someone@flaky.test');
    assert.equal(delivered.type, 'delivered');
    assert.equal(delivered.attempt, 2);
    const [received] = await first.messages(1);
    assert.deepEqual(received!.to, ['someone@flaky.test']);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
