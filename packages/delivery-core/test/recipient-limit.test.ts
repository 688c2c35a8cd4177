/**
 * A server that takes at most LIMIT recipients per transaction and answers the rest "452 4.5.3 Too
 * many recipients" (or RFC 821's 552), scripted on loopback: the recipients over the limit go in
 * further transactions on the same connection (RFC 5321 §4.5.3.1.8's chunks), pipelined or not,
 * instead of waiting for the next attempt's backoff; a transaction that delivers no one stops it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type AttemptReport, deliverAttempt } from '../src/smtp/index.js';
import { greet, type PeerConn, type ScriptedPeer, startScriptedPeer } from './fixtures/scripted-peer.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 1_000, greetingMs: 1_000, commandMs: 1_000, dataMs: 1_000 };
const HOST = '127.0.0.8';
const LIMIT = 2;
const RECIPIENTS = ['r1@dest.test', 'r2@dest.test', 'r3@dest.test', 'r4@dest.test', 'r5@dest.test'];
const peers: ScriptedPeer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

interface LimitServer {
  /** Each transaction's accepted recipients, in order. */
  messages: string[][];
}

/** Answers every command as it reads it (pipelined or not); `refuse` answers RCPTs over the limit. */
async function limited(conn: PeerConn, server: LimitServer, refuse: string, take = LIMIT): Promise<void> {
  let accepted: string[] = [];
  for (;;) {
    const line = await conn.line();
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'MAIL' || verb === 'RSET') {
      accepted = [];
      conn.write('250 2.1.0 ok\r\n');
    } else if (verb === 'RCPT') {
      const to = /<([^>]*)>/.exec(line)?.[1] ?? '';
      if (accepted.length < take) accepted.push(to);
      conn.write(accepted.at(-1) === to ? '250 2.1.5 ok\r\n' : `${refuse}\r\n`);
    } else if (verb === 'DATA') {
      if (accepted.length === 0) {
        conn.write('554 5.5.1 no valid recipients\r\n');
        continue;
      }
      conn.write('354 go ahead\r\n');
      await conn.data();
      server.messages.push(accepted);
      conn.write('250 2.0.0 queued\r\n');
    } else if (verb === 'QUIT') {
      conn.write('221 bye\r\n');
      return;
    } else conn.write('502 5.5.2 what\r\n');
  }
}

async function attempt(
  extensions: string[],
  script: (conn: PeerConn, server: LimitServer) => Promise<void>,
): Promise<{ report: AttemptReport; server: LimitServer; connections: number }> {
  const server: LimitServer = { messages: [] };
  const peer = await startScriptedPeer(HOST, async (conn) => {
    await greet(conn, extensions);
    await script(conn, server);
  });
  peers.push(peer);
  const pool = testPool(TIMEOUTS, { maxMessagesPerConnection: 1 });
  const report = await deliverAttempt(pool, {
    from: 'app@origin.test',
    recipients: RECIPIENTS,
    body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
    hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: peer.port }],
    tls: 'none',
    tlsVerify: false,
  });
  await pool.close();
  return { report, server, connections: peer.connections };
}

describe('a server with a recipient limit per transaction', () => {
  for (const [name, extensions, refuse] of [
    ['pipelined, 452', ['PIPELINING'], '452 4.5.3 Too many recipients'],
    ['one command at a time, 452', [], '452 4.5.3 Too many recipients'],
    ["pipelined, RFC 821's 552", ['PIPELINING'], '552 Too many recipients'],
  ] as const) {
    it(`${name}: the rest go in further transactions on the same connection`, async () => {
      const { report, server, connections } = await attempt([...extensions], (conn, s) =>
        limited(conn, s, refuse),
      );
      assert.deepEqual(
        report.recipients.map((r) => `${r.address} ${r.accepted ? 'delivered' : r.reply.code}`),
        RECIPIENTS.map((r) => `${r} delivered`),
      );
      assert.deepEqual(server.messages, [
        RECIPIENTS.slice(0, 2),
        RECIPIENTS.slice(2, 4),
        RECIPIENTS.slice(4),
      ]);
      assert.equal(connections, 1);
      assert.equal(report.connectionReply, undefined);
    });
  }

  it('a further transaction that delivers no one ends it: the rest wait with their 452', async () => {
    const { report, server } = await attempt(['PIPELINING'], (conn, s) =>
      limited(conn, s, '452 4.5.3 Too many recipients', 0).catch(() => undefined),
    );
    assert.deepEqual(server.messages, []);
    for (const r of report.recipients) assert.equal(r.reply.code, 452);
  });

  it('only the rest over the limit is sent again; a 452 for another reason (mailbox full) waits', async () => {
    const { report, server } = await attempt(['PIPELINING'], async (conn, s) => {
      let n = 0;
      let accepted: string[] = [];
      for (;;) {
        const line = await conn.line();
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'MAIL') {
          accepted = [];
          n = 0;
          conn.write('250 ok\r\n');
        } else if (verb === 'RCPT') {
          const to = /<([^>]*)>/.exec(line)?.[1] ?? '';
          n++;
          if (to === 'r2@dest.test') conn.write('452 4.2.2 Mailbox full\r\n');
          else if (n <= 3) {
            accepted.push(to);
            conn.write('250 ok\r\n');
          } else conn.write('452 4.5.3 Too many recipients\r\n');
        } else if (verb === 'DATA') {
          conn.write('354 go ahead\r\n');
          await conn.data();
          s.messages.push(accepted);
          conn.write('250 queued\r\n');
        } else if (verb === 'QUIT') {
          conn.write('221 bye\r\n');
          return;
        }
      }
    });
    assert.deepEqual(server.messages, [
      ['r1@dest.test', 'r3@dest.test'],
      ['r4@dest.test', 'r5@dest.test'],
    ]);
    const full = report.recipients.find((r) => r.address === 'r2@dest.test')!;
    assert.equal(full.reply.enhanced, '4.2.2');
    assert.equal(report.recipients.filter((r) => r.accepted).length, 4);
  });
});
