/**
 * Contract test of the `smtp-hooks` touchpoint (smtp-server-internals.ts, used by smtp-hooks.ts)
 * against the installed smtp-server: the private SMTPConnection members it reaches into still
 * exist and read as expected on a live connection, and a real SMTPServer on loopback runs every hook — a
 * command seen by name (AUTH continuation lines not), held for a delay, answered instead (and
 * closed), and every error reply reported with a closing 421 after it. A server without hooks
 * is untouched. If an smtp-server upgrade moves these internals, this fails before the relay does.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { RawSmtp } from '../../../test/lib/raw-smtp.js';
import { attachSmtpHooks, type CommandVerdict, type SmtpConnectionControl } from '../src/smtp-hooks.js';
import { connectionPrototype } from '../src/smtp-server-internals.js';

const HOLD_MS = 150;

function listen(server: SMTPServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)),
  );
}

describe('smtp-server internals used by smtp-hooks.ts', () => {
  it('smtp-hooks: SMTPConnection.prototype still has _onCommand, connectionReady, send and close', () => {
    assert.doesNotThrow(() => connectionPrototype('smtp-hooks'));
  });
});

describe('attachSmtpHooks on a real SMTPServer', () => {
  const commands: string[] = [];
  const errors: number[] = [];
  /** waitingForClient() as each command arrived (the reply to it not yet sent). */
  const waiting: boolean[] = [];
  let connected: SmtpConnectionControl | undefined;
  let hooked: SMTPServer;
  let plain: SMTPServer;
  let hookedPort: number;
  let plainPort: number;
  before(async () => {
    const options = {
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (_auth: unknown, _session: unknown, cb: (err: Error | null, res?: { user: unknown }) => void) =>
        cb(null, { user: 'u' }),
    };
    hooked = new SMTPServer(options);
    plain = new SMTPServer(options);
    attachSmtpHooks(hooked, {
      connected(conn) {
        connected = conn;
      },
      command(conn, name): CommandVerdict {
        commands.push(name);
        waiting.push(conn.waitingForClient());
        assert.equal(conn.remoteAddress, '127.0.0.1');
        assert.equal(typeof conn.session.id, 'string');
        if (name === 'HOLD') return { delayMs: HOLD_MS };
        if (name === 'STOP') return { code: 421, text: '4.7.0 stopped here', close: true };
        if (name === 'VRFY') return { code: 502, text: '5.5.1 not here', close: false };
        return undefined;
      },
      reply(_conn, code) {
        errors.push(code);
        return errors.length >= 3 ? { code: 421, text: '4.7.0 enough errors' } : undefined;
      },
    });
    hookedPort = await listen(hooked);
    plainPort = await listen(plain);
  });
  after(async () => {
    await new Promise<void>((resolve) => hooked.close(() => resolve()));
    await new Promise<void>((resolve) => plain.close(() => resolve()));
  });

  it('sees commands by name (not AUTH continuation lines), holds one, and answers one itself', async () => {
    const { client } = await RawSmtp.connect('127.0.0.1', hookedPort);
    try {
      await client.command('EHLO hooks.test');
      assert.equal((await client.command('AUTH LOGIN')).code, 334);
      assert.equal((await client.command(Buffer.from('user').toString('base64'))).code, 334);
      assert.equal((await client.command(Buffer.from('secret').toString('base64'))).code, 235);
      const started = Date.now();
      assert.equal((await client.command('HOLD')).code, 500, 'held, then run (and unknown to smtp-server)');
      assert.ok(Date.now() - started >= HOLD_MS);
      assert.match((await client.command('STOP')).text, /^421 4\.7\.0 stopped here/);
      await client.ended;
    } finally {
      client.close();
    }
    assert.deepEqual(commands, ['EHLO', 'AUTH', 'HOLD', 'STOP']);
    assert.ok(connected, 'smtp-hooks: connectionReady wrapper reports the connection');
    assert.equal(
      connected.waitingForClient(),
      false,
      'smtp-hooks: _closing/_closed read as closed after a 421',
    );
    assert.deepEqual(
      waiting,
      [true, true, true, true],
      'smtp-hooks: _handlerPending/_dataStream/_upgrading/_closing/_closed read as "waiting" when a command arrives',
    );
  });

  it('reports every error reply, including its own answers, and closes after the reply hook says so', async () => {
    errors.length = 0;
    const { client } = await RawSmtp.connect('127.0.0.1', hookedPort);
    try {
      await client.command('EHLO hooks.test');
      assert.equal((await client.command('VRFY x')).code, 502);
      assert.equal((await client.command('BOGUS')).code, 500);
      assert.equal((await client.command('MAIL FROM:<bad')).code, 501);
      assert.match((await client.read()).text, /^421 4\.7\.0 enough errors/);
      await client.ended;
    } finally {
      client.close();
    }
    assert.deepEqual(errors, [502, 500, 501]);
  });

  it('leaves a server without hooks alone', async () => {
    const before = commands.length;
    const { client } = await RawSmtp.connect('127.0.0.1', plainPort);
    try {
      await client.command('EHLO plain.test');
      assert.equal((await client.command('STOP')).code, 500);
      assert.equal((await client.command('NOOP')).code, 250);
    } finally {
      client.close();
    }
    assert.equal(commands.length, before);
  });
});
