/**
 * End to end: input hygiene at intake. A header block with NUL or a bare CR, or a body with NUL,
 * is refused 550 5.6.0 at the end of DATA (and HERALD_SEND_BAD_CONTENT by `send()`); a bare CR in the
 * body is normalised to CRLF before the message is signed and relayed; an end of data that is not
 * <CRLF>.<CRLF> (<LF>.<LF>, <LF>.<CRLF>, <CR>.<CR>) never ends the message, so commands smuggled
 * behind it are message text, delivered dot-stuffed to one recipient and executed nowhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';

/** One transaction over a raw socket; `data` is written as it is, then <CRLF>.<CRLF>. */
async function transact(stack: Stack, recipient: string, data: string): Promise<string> {
  const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
  try {
    await client.command('EHLO hygiene.test');
    assert.equal((await client.command(`MAIL FROM:<${SENDER}>`)).code, 250);
    assert.equal((await client.command(`RCPT TO:<${recipient}>`)).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    const reply = await client.command(`${data}\r\n.`);
    // Anything smuggled would have been answered too: QUIT's 221 must be the very next reply.
    assert.equal((await client.command('QUIT')).code, 221);
    return reply.text;
  } finally {
    client.close();
  }
}

const head = (subject: string) => `From: ${SENDER}\r\nTo: x@example.test\r\nSubject: ${subject}\r\n`;
const hasBareCr = (raw: Buffer) => /\r(?!\n)/.test(raw.toString('latin1'));

describe('input hygiene at intake', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.stop());

  it('refuses a bare CR inside the header block with 550 5.6.0', async () => {
    const text = await transact(
      stack,
      'bare-cr-head@example.test',
      `${head('hi\rBcc: victim@example.test')}\r\nbody`,
    );
    assert.match(text, /^550 5\.6\.0 /);
  });

  it('refuses NUL in the header block or in the body with 550 5.6.0', async () => {
    assert.match(await transact(stack, 'nul@example.test', `${head('a\0b')}\r\nbody`), /^550 5\.6\.0 /);
    assert.match(await transact(stack, 'nul@example.test', `${head('nul body')}\r\nbo\0dy`), /^550 5\.6\.0 /);
    assert.equal(
      stack.events.ofType('accepted').filter((e) => e.recipients.includes('nul@example.test')).length,
      0,
    );
  });

  it('normalises a bare CR in the body to CRLF before relaying', async () => {
    const text = await transact(
      stack,
      'bare-cr-body@example.test',
      `${head('body cr')}\r\nline one\rline two`,
    );
    assert.match(text, /^250 /);
    await stack.events.terminal('bare-cr-body@example.test');
    const message = stack.sinks[0]!.messages.find((m) => m.to.includes('bare-cr-body@example.test'))!;
    assert.equal(hasBareCr(message.raw), false, 'no bare CR reaches the next hop');
    assert.match(message.raw.toString(), /line one\r\nline two/);
  });

  for (const [name, ending, id] of [
    ['<LF>.<LF>', '\n.\n', 'lf-lf'],
    ['<LF>.<CRLF>', '\n.\r\n', 'lf-crlf'],
    ['<CR>.<CR>', '\r.\r', 'cr-cr'],
  ] as const) {
    it(`${name} inside DATA does not end the message: the smuggled transaction is text, not a second message`, async () => {
      const recipient = `smuggle-${id}@example.test`;
      const smuggled = `MAIL FROM:<evil@origin.test>\r\nRCPT TO:<smuggled@example.test>\r\nDATA\r\nforged`;
      const text = await transact(stack, recipient, `${head(`smuggle ${name}`)}\r\nbody${ending}${smuggled}`);
      assert.match(text, /^250 /);
      await stack.events.terminal(recipient);
      const message = stack.sinks[0]!.messages.find((m) => m.to.includes(recipient))!;
      assert.match(message.raw.toString(), /MAIL FROM:<evil@origin\.test>/, 'delivered as message text');
      assert.equal(hasBareCr(message.raw), false, 'no bare CR reaches the next hop');
      assert.equal(
        stack.events.ofType('accepted').filter((e) => e.recipients.includes('smuggled@example.test')).length,
        0,
      );
      assert.equal(stack.sinks[0]!.messages.filter((m) => m.to.includes('smuggled@example.test')).length, 0);
    });
  }

  it('send() applies the same rule: HERALD_SEND_BAD_CONTENT for a bare CR in a header or a NUL', async () => {
    const { herald } = stack.relay;
    for (const raw of [`${head('a\rb')}\r\nbody\r\n`, `${head('nul')}\r\nbo\0dy\r\n`]) {
      await assert.rejects(
        herald.send({ from: SENDER, to: 'lib@example.test', raw }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'HERALD_SEND_BAD_CONTENT');
          return true;
        },
      );
    }
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
