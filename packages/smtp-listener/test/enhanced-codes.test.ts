/**
 * Contract test of the `own-enhanced-codes` touchpoint (smtp-server-internals.ts, used by
 * enhanced-codes.ts) against the installed smtp-server, on real SMTPServers on loopback: with
 * enhanced codes on, a registered server's reply text that starts with an enhanced code keeps
 * exactly that code (`send(code, data, false)` writes none of smtp-server's own), its other
 * replies keep smtp-server's contextual code, and an unregistered server in the same process
 * is untouched.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { RawSmtp } from '../../../test/lib/raw-smtp.js';
import { smtpError, useOwnEnhancedCodes } from '../src/enhanced-codes.js';
import { connectionPrototype } from '../src/smtp-server-internals.js';

function listen(server: SMTPServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)),
  );
}

const OPTIONS: SMTPServerOptions = {
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  hideENHANCEDSTATUSCODES: false,
  logger: false,
  onMailFrom(address, _session, callback) {
    if (address.address.startsWith('refused@')) return callback(smtpError(553, '5.7.1', 'not this sender'));
    callback();
  },
};

/** MAIL FROM replies of one session: a refusal written by Herald, then an acceptance. */
async function mailReplies(port: number): Promise<[string, string]> {
  const { client } = await RawSmtp.connect('127.0.0.1', port);
  try {
    await client.command('EHLO codes.test');
    const refused = (await client.command('MAIL FROM:<refused@codes.test>')).text;
    const accepted = (await client.command('MAIL FROM:<ok@codes.test>')).text;
    return [refused, accepted];
  } finally {
    client.close();
  }
}

describe('own enhanced codes per server (enhanced-codes.ts)', () => {
  let own: SMTPServer;
  let other: SMTPServer;
  let ownPort: number;
  let otherPort: number;
  before(async () => {
    own = new SMTPServer(OPTIONS);
    other = new SMTPServer(OPTIONS);
    useOwnEnhancedCodes(own);
    ownPort = await listen(own);
    otherPort = await listen(other);
  });
  after(async () => {
    await new Promise<void>((resolve) => own.close(() => resolve()));
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });

  it('own-enhanced-codes: SMTPConnection.prototype.send is still there to wrap', () => {
    assert.doesNotThrow(() => connectionPrototype('own-enhanced-codes'));
  });

  it("own-enhanced-codes: a registered server's reply keeps Herald's code; its other replies keep smtp-server's", async () => {
    const [refused, accepted] = await mailReplies(ownPort);
    assert.equal(
      refused,
      '553 5.7.1 not this sender',
      'own-enhanced-codes: send(code, data, false) writes no code of its own',
    );
    assert.match(
      accepted,
      /^250 2\.1\.0 /,
      "own-enhanced-codes: other replies keep smtp-server's contextual code",
    );
  });

  it('own-enhanced-codes: another server in the same process is untouched', async () => {
    const [refused, accepted] = await mailReplies(otherPort);
    assert.match(refused, /^553 5\.\d+\.\d+ 5\.7\.1 not this sender$/, 'smtp-server prefixes its own code');
    assert.match(accepted, /^250 2\.1\.0 /);
  });
});

describe("smtp-server's own closing replies on a registered server (enhanced-codes.ts CLOSING_CODES)", () => {
  let server: SMTPServer;
  let port: number;
  before(async () => {
    server = new SMTPServer({ ...OPTIONS, maxClients: 1 });
    useOwnEnhancedCodes(server);
    port = await listen(server);
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('its connection-limit backstop says 4.7.0 (it wrote no enhanced code at all)', async () => {
    const first = await RawSmtp.connect('127.0.0.1', port);
    try {
      const second = await RawSmtp.connect('127.0.0.1', port);
      second.client.close();
      assert.match(second.greeting.text, /^421 4\.7\.0 \S+ Too many connected clients/);
    } finally {
      first.client.close();
    }
  });

  it('the tenth unrecognized command says 4.7.0 (its conduct), not the network code 4.4.2', async () => {
    const session = await connectWhenFree(port);
    try {
      const replies: string[] = [];
      for (let i = 0; i < 10; i++) replies.push((await session.client.command(`XYZZY${i}`)).text);
      assert.match(replies[0] ?? '', /^500 5\.5\.\d+ /);
      assert.match(replies[9] ?? '', /^421 4\.7\.0 Error: too many unrecognized commands$/);
    } finally {
      session.client.close();
    }
  });

  it('a command line over the length limit says 4.5.2, not the network code 4.4.2', async () => {
    const session = await connectWhenFree(port);
    try {
      const reply = await session.client.command(`NOOP ${'x'.repeat(20 * 1024)}`);
      assert.match(reply.text, /^421 4\.5\.2 Error: Command line too long$/);
    } finally {
      session.client.close();
    }
  });
});

/** A session on the one-client server, once the previous case's connection no longer counts. */
async function connectWhenFree(port: number): Promise<Awaited<ReturnType<typeof RawSmtp.connect>>> {
  for (;;) {
    const session = await RawSmtp.connect('127.0.0.1', port);
    if (session.greeting.text.startsWith('220')) return session;
    session.client.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
