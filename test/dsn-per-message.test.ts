/**
 * End to end: one DSN per message and kind, however many destination domains (jobs) the message
 * has — no amplification. A message to five recipients in five domains that all refuse with 550
 * gets its sender exactly one failure report listing all five; NOTIFY=SUCCESS relayed in one
 * domain and a failure in another make one success report and one failure report (Postfix's
 * trace and bounce notices); three domains still deferring past `delivery.delay_warning` make one
 * delayed report listing the three.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AcceptedEvent } from '@herald/delivery-core/events';
import { sampleMessage } from './lib/message.js';
import { RawSmtp } from './lib/raw-smtp.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const GONE = { code: 550, enhanced: '5.1.1', text: 'user unknown' };
const LATER = { code: 451, enhanced: '4.2.0', text: 'try again later' };
const DOMAINS = ['a.test', 'b.test', 'c.test', 'd.test', 'e.test'];

function zone(domains: readonly string[]) {
  return Object.assign(
    {},
    ...domains.map((d) => mxZone(d, [{ preference: 10, address: '127.0.0.2' }])),
    mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
  );
}

/** One transaction on a raw connection; returns the last reply. */
async function rawSend(stack: Stack, mail: string, rcpts: string[], body: Buffer): Promise<string> {
  const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
  try {
    await client.command('EHLO client.test');
    await client.command(mail);
    for (const rcpt of rcpts) await client.command(rcpt);
    await client.command('DATA');
    client.write(body);
    const reply = (await client.command('.')).text;
    await client.command('QUIT').catch(() => undefined);
    return reply;
  } finally {
    client.close();
  }
}

function finalRecipients(report: Buffer): string[] {
  return [...report.toString('utf8').matchAll(/Final-Recipient: rfc822; (\S+)/g)].map((m) => m[1]!).sort();
}

function subjectOf(report: Buffer): string | undefined {
  return /Subject: (.*)/.exec(report.toString('utf8'))?.[1];
}

describe('one DSN per message, not per destination domain', () => {
  it('five recipients in five domains refused with 550 make exactly one failure report listing all five', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: () => GONE } }, '127.0.0.3'],
      zone: zone(DOMAINS),
    });
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: DOMAINS.map((d) => `user@${d}`),
      body: sampleMessage({ subject: 'fan-out' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const reports = events.filter((e): e is AcceptedEvent => e.type === 'accepted' && e.source === 'dsn');
    assert.equal(reports.length, 1, 'one report for the message');
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(subjectOf(report!.raw), 'Undelivered Mail Returned to Sender');
    assert.deepEqual(
      finalRecipients(report!.raw),
      DOMAINS.map((d) => `user@${d}`),
    );
    assert.match(report!.raw.toString('utf8'), /Subject: fan-out/, "the original's headers are quoted");
  });

  it('NOTIFY=SUCCESS relayed in one domain and a failure in another make one success and one failure report', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: { 'gone@b.test': GONE } } }, '127.0.0.3'],
      zone: zone(['a.test', 'b.test']),
    });
    t.after(() => stack.stop());
    const reply = await rawSend(
      stack,
      'MAIL FROM:<app@origin.test>',
      ['RCPT TO:<ok@a.test> NOTIFY=SUCCESS', 'RCPT TO:<also@a.test> NOTIFY=SUCCESS', 'RCPT TO:<gone@b.test>'],
      sampleMessage({ subject: 'mixed' }),
    );
    assert.match(reply, /^250 /);
    await stack.assertEveryRecipientTerminatedOnce();
    const reports = await stack.sinks[1]!.waitForMessages(2);
    const bySubject = new Map(reports.map((r) => [subjectOf(r.raw), finalRecipients(r.raw)]));
    assert.deepEqual([...bySubject].sort(), [
      ['Successful Mail Delivery Report', ['also@a.test', 'ok@a.test']],
      ['Undelivered Mail Returned to Sender', ['gone@b.test']],
    ]);
    assert.equal(stack.sinks[1]!.messages.length, 2);
  });

  it('three domains deferring past delivery.delay_warning make one delayed report listing the three', async (t) => {
    const three = DOMAINS.slice(0, 3);
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: () => LATER } }, '127.0.0.3'],
      zone: zone(three),
      // Every job is deferred once before the message is 2 s old; the next attempts cross it.
      config: { delivery: { delay_warning: '2s' }, retry: { schedule: ['2500ms'], jitter: 0 } },
    });
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: three.map((d) => `late@${d}`),
      body: sampleMessage({ subject: 'slow fan-out' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(subjectOf(report!.raw), 'Delayed Mail (still being retried)');
    assert.deepEqual(
      finalRecipients(report!.raw),
      three.map((d) => `late@${d}`),
    );
    // Every job crosses the warning on its second attempt: wait for all of them, then let them through.
    const seconds = new Set<string>();
    await stack.events.waitFor('every job deferred a second time', (e) => {
      if (e.type === 'deferred' && 'attempt' in e && e.attempt >= 2 && 'recipient' in e)
        seconds.add(e.recipient);
      return seconds.size === three.length;
    });
    stack.sinks[0]!.setScript({});
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.sinks[1]!.messages.length, 1, 'one delay notice for the message');
  });
});
