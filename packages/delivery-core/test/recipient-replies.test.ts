/**
 * Each recipient's outcome is what the server said to that recipient (scripted peers on loopback):
 * a 552 "too many recipients" to RCPT is RFC 5321's 452 (§4.5.3.1.10) and is sent again
 * (recipient-limit.test.ts), while other 552s (over quota) stay permanent; a UTF-8 address to a server without
 * SMTPUTF8 is refused alone (553 5.6.7) and its ASCII co-recipients are still sent, as they are
 * with one transaction per recipient (VERP); a reused connection whose replies turn out shifted by a
 * late extra reply (DATA answered 2xx) defers every recipient of the transaction instead of
 * bouncing one with the refusal the server gave another.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type AttemptReport, deliverAttempt } from '../src/smtp/index.js';
import { greet, type PeerConn, type ScriptedPeer, startScriptedPeer } from './fixtures/scripted-peer.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 1_000, greetingMs: 1_000, commandMs: 1_000, dataMs: 1_000 };
const HOST = '127.0.0.7';
const peers: ScriptedPeer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

/** One attempt of `recipients` to a peer that offers `extensions` and then runs `script`. */
async function attempt(
  extensions: string[],
  recipients: string[],
  script: (conn: PeerConn) => Promise<void>,
): Promise<Map<string, AttemptReport['recipients'][number]>> {
  const peer = await startScriptedPeer(HOST, async (conn) => {
    await greet(conn, extensions);
    await script(conn);
  });
  peers.push(peer);
  const pool = testPool(TIMEOUTS);
  const report = await deliverAttempt(pool, {
    from: 'app@origin.test',
    recipients,
    body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
    hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: peer.port }],
    tls: 'none',
    tlsVerify: false,
  });
  await pool.close();
  return new Map(report.recipients.map((r) => [r.address, r]));
}

/** Reads the envelope one command at a time, answering each RCPT from `rcpt`, then takes the body. */
async function answer(conn: PeerConn, rcpt: (to: string) => string, seen: string[] = []): Promise<void> {
  for (;;) {
    const line = await conn.line();
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'QUIT') {
      conn.write('221 bye\r\n');
      return;
    }
    if (verb === 'MAIL') conn.write('250 2.1.0 ok\r\n');
    else if (verb === 'RCPT') {
      const to = /^RCPT TO:<([^>]*)>/i.exec(line)?.[1] ?? '';
      seen.push(to);
      conn.write(`${rcpt(to)}\r\n`);
    } else if (verb === 'DATA') {
      conn.write('354 go ahead\r\n');
      await conn.data();
      conn.write('250 2.0.0 queued\r\n');
    } else conn.write('250 ok\r\n');
  }
}

describe('per-recipient replies', () => {
  it('a 552 "too many recipients" to RCPT is sent again (452 4.5.3); a 552 over quota bounces', async () => {
    const seen: string[] = [];
    const outcome = await attempt([], ['one@dest.test', 'full@dest.test', 'three@dest.test'], (conn) =>
      answer(
        conn,
        (to) =>
          to === 'full@dest.test'
            ? '552 5.2.2 Mailbox full'
            : to === 'three@dest.test' && seen.filter((t) => t === to).length === 1
              ? '552 5.5.3 Too many recipients'
              : '250 2.1.5 ok',
        seen,
      ),
    );
    assert.deepEqual(seen, ['one@dest.test', 'full@dest.test', 'three@dest.test', 'three@dest.test']);
    assert.equal(outcome.get('one@dest.test')?.accepted, true);
    assert.equal(outcome.get('full@dest.test')?.reply.code, 552);
    assert.equal(outcome.get('three@dest.test')?.accepted, true);
  });

  it('a UTF-8 address to a server without SMTPUTF8 is refused alone; the ASCII ones are sent', async () => {
    const seen: string[] = [];
    const outcome = await attempt(
      ['8BITMIME'],
      ['one@dest.test', 'jörg@dest.test', 'three@dest.test'],
      (conn) => answer(conn, () => '250 2.1.5 ok', seen),
    );
    assert.deepEqual(seen, ['one@dest.test', 'three@dest.test']);
    assert.equal(outcome.get('one@dest.test')?.accepted, true);
    assert.equal(outcome.get('three@dest.test')?.accepted, true);
    const utf8 = outcome.get('jörg@dest.test')!.reply;
    assert.equal(utf8.code, 553);
    assert.equal(utf8.enhanced, '5.6.7');
  });

  it('only UTF-8 addresses: the transaction is refused before MAIL, as before', async () => {
    let mailSeen = false;
    const outcome = await attempt(['8BITMIME'], ['jörg@dest.test', 'zoë@dest.test'], async (conn) => {
      const line = await conn.line().catch(() => '');
      mailSeen = line.toUpperCase().startsWith('MAIL');
      conn.write('221 bye\r\n');
    });
    assert.equal(mailSeen, false);
    for (const r of outcome.values()) assert.equal(r.reply.code, 553);
  });

  for (const [name, lastRcpt] of [
    ['the last RCPT accepted (DATA read as 2xx)', '250 ok'],
    ['the last RCPT refused (DATA read as 550, then the 354 waits)', '550 5.1.1 no such user'],
  ] as const)
    it(`a late extra reply to the last final dot shifts the next transaction, ${name}: nobody bounces on it`, async () => {
      const { second, connections } = await shifted(lastRcpt);
      assert.equal(connections, 1, 'the connection was reused');
      for (const r of second.recipients) {
        assert.equal(r.accepted, false, r.address);
        assert.equal(Math.floor(r.reply.code / 100), 4, `${r.address}: ${r.reply.code} ${r.reply.text}`);
      }
    });
});

/**
 * Two attempts on one pooled connection: the first's final dot gets a second, LMTP-like reply that
 * arrives as the next transaction starts; the second's real replies are 250 to MAIL, 250, 550 and
 * `lastRcpt` to its three RCPTs, and 354 to DATA.
 */
async function shifted(lastRcpt: string): Promise<{ second: AttemptReport; connections: number }> {
  const peer = await startScriptedPeer(HOST, async (conn) => {
    await greet(conn, ['PIPELINING']);
    await readGroup(conn, 2);
    conn.write('250 ok\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n');
    await conn.data();
    conn.write('250 2.0.0 <first> delivered\r\n');
    await conn.expect('MAIL FROM');
    // An LMTP-like second reply to the previous dot, arriving as the next transaction starts.
    conn.write('250 2.0.0 <second> delivered\r\n');
    for (let i = 0; i < 3; i++) await conn.expect('RCPT TO');
    await conn.expect('DATA');
    conn.write(`250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n${lastRcpt}\r\n354 go ahead\r\n`);
  });
  peers.push(peer);
  const pool = testPool(TIMEOUTS);
  const request = (recipients: string[]) => ({
    from: 'app@origin.test',
    recipients,
    body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
    hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: peer.port }],
    tls: 'none' as const,
    tlsVerify: false,
  });
  const first = await deliverAttempt(pool, request(['a@dest.test', 'b@dest.test']));
  assert.ok(first.recipients.every((r) => r.accepted));
  const second = await deliverAttempt(pool, request(['c@dest.test', 'unknown@dest.test', 'e@dest.test']));
  await pool.close();
  return { second, connections: peer.connections };
}

/** Reads a pipelined MAIL, `n` RCPTs and DATA. */
async function readGroup(conn: PeerConn, n: number): Promise<void> {
  await conn.expect('MAIL FROM');
  for (let i = 0; i < n; i++) await conn.expect('RCPT TO');
  await conn.expect('DATA');
}
