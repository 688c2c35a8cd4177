/**
 * End to end: next hops without 8BITMIME or SMTPUTF8. An 8-bit message submitted with
 * BODY=8BITMIME reaches a sink that offers 8BITMIME as it was (BODY=8BITMIME on the wire) and one
 * that does not as 7-bit quoted-printable (no byte above 127 on the wire, no BODY parameter),
 * with the same text once decoded; with `delivery.convert_8bit: false` it bounces 5.6.3 with a
 * report to the sender. A UTF-8 recipient for a next hop without SMTPUTF8 bounces 5.6.7 after
 * one attempt, no MAIL command sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecipientEvent } from '@herald/delivery-core/events';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';

function zone() {
  return {
    ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
    ...mxZone('old.test', [{ preference: 10, address: '127.0.0.4' }]),
    ...mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
  };
}

const SINKS = [
  '127.0.0.2',
  '127.0.0.3',
  { host: '127.0.0.4', eightBitMime: false, smtputf8: false },
] as const;

/** Quoted-printable decoded (soft breaks joined, =XX as bytes). */
function decodeQp(text: string): Buffer {
  const joined = text.replace(/=\r\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(joined.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

const eightBitOnWire = (raw: Buffer) => raw.some((byte) => byte > 0x7f);

describe('a next hop without 8BITMIME', () => {
  it('gets an 8-bit message as 7-bit quoted-printable; a hop with 8BITMIME gets it as it was', async (t) => {
    const stack = await startStack({ sinks: [...SINKS], zone: zone() });
    t.after(() => stack.stop());
    const body = sampleMessage({ subject: 'umlauts' });
    assert.ok(eightBitOnWire(body), 'the test message is 8-bit');
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['new@dest.test', 'legacy@old.test'],
      body,
    });
    assert.equal(sent.code, 250, sent.response);
    const [modern] = await stack.sinks[0]!.waitForMessages(1);
    const [legacy] = await stack.sinks[2]!.waitForMessages(1);
    assert.ok(eightBitOnWire(modern!.raw), 'an 8BITMIME hop gets the 8-bit message');
    assert.ok(!eightBitOnWire(legacy!.raw), 'no 8-bit byte reached the hop without 8BITMIME');
    const text = legacy!.raw.toString('latin1');
    assert.match(text, /^Content-Transfer-Encoding: quoted-printable\r$/m);
    assert.match(text, /^Content-Type: text\/plain; charset=utf-8\r$/m);
    const legacyBody = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.match(decodeQp(legacyBody).toString('utf8'), /Grüße — ünïcödé/);
    const mails = (sink: (typeof stack.sinks)[number]) =>
      sink
        .transcripts()
        .flatMap((c) => c.entries)
        .filter((e) => e.stage === 'mail')
        .map((e) => e.command);
    assert.ok(
      mails(stack.sinks[0]!).every((c) => / BODY=8BITMIME/.test(c)),
      mails(stack.sinks[0]!).join('\n'),
    );
    assert.ok(
      mails(stack.sinks[2]!).every((c) => !/BODY=/.test(c)),
      mails(stack.sinks[2]!).join('\n'),
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('with delivery.convert_8bit: false the recipient bounces 5.6.3 and the sender gets a report', async (t) => {
    const stack = await startStack({
      sinks: [...SINKS],
      zone: zone(),
      config: { delivery: { convert_8bit: false } },
    });
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['legacy@old.test'],
      body: sampleMessage({ subject: 'no conversion' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const end = await stack.events.terminal('legacy@old.test', sent.queueId);
    assert.equal(end.type, 'bounced');
    assert.equal((end as RecipientEvent).reply?.enhanced, '5.6.3');
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    assert.match(report!.raw.toString('utf8'), /Status: 5\.6\.3/);
    assert.equal(stack.sinks[2]!.messages.length, 0);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('a next hop without SMTPUTF8', () => {
  it('a UTF-8 recipient bounces 5.6.7 after one attempt, without a MAIL command', async (t) => {
    const stack = await startStack({ sinks: [...SINKS], zone: zone() });
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['jürgen@old.test'],
      body: sampleMessage({ subject: 'idn' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const end = await stack.events.terminal('jürgen@old.test', sent.queueId);
    assert.equal(end.type, 'bounced');
    assert.equal((end as RecipientEvent).reply?.enhanced, '5.6.7');
    assert.equal((end as RecipientEvent).attempt, 1, 'no retry');
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    assert.match(report!.raw.toString('utf8'), /Status: 5\.6\.7/);
    const commands = stack.sinks[2]!.transcripts().flatMap((c) => c.entries.map((e) => e.stage));
    assert.ok(!commands.includes('mail'), `no MAIL was sent: ${commands.join(',')}`);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
