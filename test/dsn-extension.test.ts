/**
 * End to end: the RFC 3461 DSN extension. The relay advertises DSN and refuses malformed
 * NOTIFY / ORCPT / RET / ENVID with 501 5.5.4; the sender's request rules the reports its mailbox
 * (the origin.test sink) receives: none for NOTIFY=NEVER, a failure with ENVID, ORCPT and the
 * whole message (RET=FULL) echoed, `Action: relayed` for NOTIFY=SUCCESS to a next hop without DSN;
 * to a next hop with DSN the request goes on the wire and Herald sends no success report; a
 * recipient still queued past `delivery.delay_warning` gets one `Action: delayed` report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AcceptedEvent } from '@herald/delivery-core/events';
import { BOUNCE } from './lib/bounce-reports.js';
import { sampleMessage } from './lib/message.js';
import { RawSmtp } from './lib/raw-smtp.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const GONE = { code: 550, enhanced: '5.1.1', text: 'user unknown' };

function zone() {
  return {
    ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
    ...mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
  };
}

/** One transaction on a raw connection: MAIL and RCPT lines as given, then the body. Returns every reply. */
async function rawSend(stack: Stack, mail: string, rcpts: string[], body: Buffer): Promise<string[]> {
  const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
  try {
    const replies = [(await client.command('EHLO client.test')).text];
    replies.push((await client.command(mail)).text);
    for (const rcpt of rcpts) replies.push((await client.command(rcpt)).text);
    replies.push((await client.command('DATA')).text);
    client.write(body);
    replies.push((await client.command('.')).text);
    await client.command('QUIT').catch(() => undefined);
    return replies;
  } finally {
    client.close();
  }
}

/** The message/delivery-status part's recipient blocks, as "Field: value" maps. */
function recipientBlocks(report: string): Map<string, string>[] {
  const status = /Content-Type: message\/delivery-status\r\n\r\n([\s\S]*?)\r\n--herald-dsn/.exec(report)?.[1];
  assert.ok(status, 'the report has a message/delivery-status part');
  return status
    .split('\r\n\r\n')
    .slice(1)
    .map(
      (block) =>
        new Map(block.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])),
    );
}

describe('the DSN extension at submission', () => {
  it('advertises DSN and refuses malformed NOTIFY, ORCPT, RET and ENVID with 501 5.5.4', async (t) => {
    const stack = await startStack({ sinks: ['127.0.0.2'], zone: zone() });
    let client: RawSmtp | undefined;
    // One hook, the client first: a relay stopping with a session still open waits for it to end.
    t.after(async () => {
      client?.close();
      await stack.stop();
    });
    ({ client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port));
    const ehlo = await client.command('EHLO client.test');
    assert.ok(
      ehlo.lines.some((l) => /^250[- ]DSN$/.test(l)),
      ehlo.text,
    );
    const badRet = await client.command('MAIL FROM:<app@origin.test> RET=PARTIAL');
    assert.match(badRet.text, /^501 5\.5\.4 /);
    const longEnvid = await client.command(`MAIL FROM:<app@origin.test> ENVID=${'x'.repeat(101)}`);
    assert.match(longEnvid.text, /^501 5\.5\.4 ENVID is longer than 100/);
    // Malformed xtext, and a CR/LF smuggled in as +0D+0A (smtp-server alone would answer
    // "501 Bad sender address syntax" before Herald saw it): 501 5.5.4 from the command screen.
    for (const envid of ['a+0D+0AInjected:x', 'ab+0d', 'a+b', 'a=b', 'a+2'])
      assert.match(
        (await client.command(`MAIL FROM:<app@origin.test> ENVID=${envid}`)).text,
        /^501 5\.5\.4 ENVID/,
        envid,
      );
    assert.match((await client.command('MAIL FROM:<app@origin.test> RET=HDRS ENVID=ok-1')).text, /^250 /);
    for (const rcpt of [
      'RCPT TO:<a@dest.test> NOTIFY=NEVER,SUCCESS',
      'RCPT TO:<a@dest.test> NOTIFY=SOMETIMES',
      'RCPT TO:<a@dest.test> ORCPT=no-address-type',
      'RCPT TO:<a@dest.test> ORCPT=rfc822;a+b@dest.test',
      'RCPT TO:<a@dest.test> ORCPT=rfc822;a=b@dest.test',
      'RCPT TO:<a@dest.test> ORCPT=rfc822;a+2b@dest.test',
      'RCPT TO:<a@dest.test> ORCPT=rfc822;a+0D+0AX@dest.test',
      'RCPT TO:<a@dest.test> ORCPT=rfc(822);a@dest.test',
      `RCPT TO:<a@dest.test> ORCPT=rfc822;${'x'.repeat(490)}@dest.test`,
    ])
      assert.match((await client.command(rcpt)).text, /^501 5\.5\.4 /, rcpt);
    assert.match(
      (await client.command('RCPT TO:<a@dest.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@dest.test')).text,
      /^250 /,
    );
    // A parameter no announced extension defines is refused, not silently taken (RFC 5321 §4.1.1.11).
    assert.match(
      (await client.command('RCPT TO:<b@dest.test> SIZE=10')).text,
      /^555 5\.5\.4 Unsupported parameter: SIZE$/,
    );
    assert.match((await client.command('RSET')).text, /^250 /);
    assert.match(
      (await client.command('MAIL FROM:<app@origin.test> FOO=bar')).text,
      /^555 5\.5\.4 Unsupported parameter: FOO$/,
    );
    // A NUL or another control character among the parameters is a syntax error, not a parameter
    // (a new session: the door closes one after too many errors).
    client.close();
    ({ client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port));
    assert.match((await client.command('EHLO client.test')).text, /^250/);
    for (const mail of ['MAIL FROM:<app@origin.test> \0', 'MAIL FROM:<app@origin.test> SIZE=10\x01'])
      assert.match(
        (await client.command(mail)).text,
        /^501 5\.5\.4 Syntax error in parameters: control character 0x0[01]$/,
        JSON.stringify(mail),
      );
    assert.match((await client.command('MAIL FROM:<app@origin.test>')).text, /^250 /);
    assert.match(
      (await client.command('RCPT TO:<a@dest.test> NOTIFY=NEVER\0')).text,
      /^501 5\.5\.4 Syntax error in parameters: control character 0x00$/,
    );
  });
});

describe('reports by the sender’s DSN request', () => {
  it('NOTIFY=NEVER gets no report; a failure echoes ENVID, ORCPT and (RET=FULL) the message; NOTIFY=SUCCESS to a next hop without DSN is relayed', async (t) => {
    const stack = await startStack({
      sinks: [
        {
          host: '127.0.0.2',
          script: { rcpt: { 'never@dest.test': GONE, 'fail@dest.test': GONE } },
        },
        '127.0.0.3',
      ],
      zone: zone(),
    });
    t.after(() => stack.stop());
    const replies = await rawSend(
      stack,
      'MAIL FROM:<app@origin.test> RET=FULL ENVID=order+2B42',
      [
        'RCPT TO:<never@dest.test> NOTIFY=NEVER',
        'RCPT TO:<fail@dest.test> NOTIFY=FAILURE ORCPT=rfc822;alias+40origin.test',
        'RCPT TO:<ok@dest.test> NOTIFY=SUCCESS,FAILURE',
      ],
      sampleMessage({ subject: 'invoice 42', lines: ['the body line'] }),
    );
    assert.match(replies.at(-1)!, /^250 /, replies.join(' | '));
    // Two reports, as Postfix sends them: the failure (bounce) and the success notice (trace).
    const reports = await stack.sinks[1]!.waitForMessages(2);
    const texts = reports.map((r) => r.raw.toString('utf8'));
    assert.deepEqual(
      reports.map((r) => r.from),
      ['', ''],
    );
    const failure = texts.find((t) => /Subject: Undelivered Mail/.test(t));
    const success = texts.find((t) => /Subject: Successful Mail Delivery Report/.test(t));
    assert.ok(failure && success, texts.map((t) => /Subject: .*/.exec(t)?.[0]).join(' | '));
    for (const text of texts) assert.match(text, /Original-Envelope-Id: order\+42/);
    assert.deepEqual(
      recipientBlocks(failure).map((b) => [
        b.get('Final-Recipient'),
        b.get('Action'),
        b.get('Original-Recipient'),
      ]),
      [['rfc822; fail@dest.test', 'failed', 'rfc822; alias@origin.test']],
    );
    assert.deepEqual(
      recipientBlocks(success).map((b) => [
        b.get('Final-Recipient'),
        b.get('Action'),
        b.get('Original-Recipient'),
      ]),
      [['rfc822; ok@dest.test', 'relayed', undefined]],
    );
    assert.match(
      failure,
      /Content-Type: message\/rfc822\r\n\r\n[\s\S]*the body line/,
      'RET=FULL returns the body',
    );
    assert.doesNotMatch(
      success,
      /Content-Type: message\/rfc822/,
      'a success report returns the headers only',
    );
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.sinks[1]!.messages.length, 2, 'two reports: never@ got none');
  });

  it('to a next hop that offers DSN the request goes on the wire, and Herald sends no success report', async (t) => {
    const stack = await startStack({ sinks: [{ host: '127.0.0.2', dsn: true }, '127.0.0.3'], zone: zone() });
    t.after(() => stack.stop());
    const replies = await rawSend(
      stack,
      'MAIL FROM:<app@origin.test> RET=HDRS ENVID=abc',
      [
        'RCPT TO:<ok@dest.test> NOTIFY=SUCCESS ORCPT=rfc822;first+2Blast@dest.test',
        'RCPT TO:<plain+tag@dest.test>',
      ],
      sampleMessage({ subject: 'passed on' }),
    );
    assert.match(replies.at(-1)!, /^250 /);
    await stack.sinks[0]!.waitForMessages(1);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const commands = stack.sinks[0]!.transcripts().flatMap((c) => c.entries.map((e) => e.command));
    assert.ok(
      commands.some((c) => /^MAIL FROM:<app@origin\.test>.* RET=HDRS ENVID=abc/.test(c)),
      commands.join('\n'),
    );
    assert.ok(
      commands.some((c) => c === 'RCPT TO:<ok@dest.test> NOTIFY=SUCCESS ORCPT=rfc822;first+2Blast@dest.test'),
      commands.join('\n'),
    );
    assert.ok(
      commands.some((c) => c === 'RCPT TO:<plain+tag@dest.test> ORCPT=rfc822;plain+2Btag@dest.test'),
      `a recipient without ORCPT gets rfc822;<address> (RFC 3461 §4.2): ${commands.join('\n')}`,
    );
    const reports = events.filter((e): e is AcceptedEvent => e.type === 'accepted' && e.source === 'dsn');
    assert.equal(reports.length, 0, 'the next hop reports delivery, not Herald');
  });

  it('with VERP return paths the request is not passed on (the next hop would report to Herald): Herald reports relayed', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', dsn: true }, '127.0.0.3'],
      zone: zone(),
      config: { bounce: BOUNCE },
    });
    t.after(() => stack.stop());
    const replies = await rawSend(
      stack,
      'MAIL FROM:<app@origin.test> ENVID=verp1',
      ['RCPT TO:<ok@dest.test> NOTIFY=SUCCESS'],
      sampleMessage({ subject: 'verp' }),
    );
    assert.match(replies.at(-1)!, /^250 /);
    const [delivered] = await stack.sinks[0]!.waitForMessages(1);
    assert.match(delivered!.from, /^bounces\+/, 'a VERP return path');
    const commands = stack.sinks[0]!.transcripts().flatMap((c) => c.entries.map((e) => e.command));
    assert.ok(!commands.some((c) => /NOTIFY=|ENVID=/.test(c)), commands.join('\n'));
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(report!.to[0], 'app@origin.test');
    assert.match(report!.raw.toString('utf8'), /Action: relayed/);
    assert.match(report!.raw.toString('utf8'), /Original-Envelope-Id: verp1/);
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('a recipient still queued past delivery.delay_warning gets one delayed report; NOTIFY=FAILURE gets none', async (t) => {
    const LATER = { code: 451, enhanced: '4.2.0', text: 'try again later' };
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: () => LATER } }, '127.0.0.3'],
      zone: zone(),
      config: { delivery: { delay_warning: '1ms' }, retry: { schedule: ['200ms'], jitter: 0 } },
    });
    t.after(() => stack.stop());
    const replies = await rawSend(
      stack,
      'MAIL FROM:<app@origin.test> ENVID=slow-1',
      ['RCPT TO:<slow@dest.test>', 'RCPT TO:<quiet@dest.test> NOTIFY=FAILURE'],
      sampleMessage({ subject: 'slow' }),
    );
    assert.match(replies.at(-1)!, /^250 /);
    const [report] = await stack.sinks[1]!.waitForMessages(1);
    const text = report!.raw.toString('utf8');
    assert.match(text, /Subject: Delayed Mail/);
    assert.deepEqual(
      recipientBlocks(text).map((b) => [b.get('Final-Recipient'), b.get('Action'), b.get('Status')]),
      [['rfc822; slow@dest.test', 'delayed', '4.2.0']],
    );
    // More attempts are deferred; then the site accepts: no second delay notice was sent.
    await stack.events.waitFor(
      'a third deferral',
      (e) => e.type === 'deferred' && 'attempt' in e && e.attempt >= 3,
    );
    stack.sinks[0]!.setScript({});
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.sinks[1]!.messages.length, 1, 'one delay notice per recipient');
  });
});
