/**
 * The outbound client against servers that misbehave, at the byte level (scripted-peer.ts): every
 * step ends within its deadline, every way a connection ends settles the attempt once with the
 * right reply, and a connection is reused only when it is known to be in a clean state.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { selfSignedCertificate } from '@herald/test-harness';
import { deliverAttempt, type SmtpPool } from '../src/smtp/index.js';
import { SmtpSession } from '../src/smtp/session.js';
import { connectNoDelay } from '../src/smtp/socket.js';
import { SmtpWire } from '../src/smtp/wire.js';
import {
  greet,
  type PeerConn,
  readEnvelope,
  type ScriptedPeer,
  startScriptedPeer,
} from './fixtures/scripted-peer.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 1_000, greetingMs: 400, commandMs: 400, dataMs: 600 };
const HOST = '127.0.0.5';
const body = Buffer.from('Subject: t\r\n\r\nhello\r\n');
const peers: ScriptedPeer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

async function peer(script: (conn: PeerConn, index: number) => Promise<void>): Promise<ScriptedPeer> {
  const started = await startScriptedPeer(HOST, script);
  peers.push(started);
  return started;
}

function newPool(maxConnectionsPerHost = 1): SmtpPool {
  return testPool(TIMEOUTS, { maxConnectionsPerHost });
}

function attempt(pool: SmtpPool, port: number, recipients = ['a@dest.test'], from = 'f@src.test') {
  return deliverAttempt(pool, {
    from,
    recipients,
    body,
    hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port }],
    tls: 'opportunistic',
    tlsVerify: false,
  });
}

/** One pipelined transaction of one recipient accepted, then QUIT. */
async function acceptOneAndQuit(conn: PeerConn): Promise<void> {
  await readEnvelope(conn, 1);
  conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
  await conn.data();
  conn.write('250 2.0.0 ok\r\n');
  await conn.expect('QUIT');
  conn.write('221 bye\r\n');
  conn.end();
}

/** A broken TLS stack: 220 to STARTTLS, then bytes that are no TLS record. */
async function brokenTls(conn: PeerConn): Promise<void> {
  await conn.expect('STARTTLS');
  conn.write('220 go ahead\r\n');
  conn.write(Buffer.alloc(64, 0x41));
  await conn.closed;
}

const summary = (r: { address: string; accepted: boolean; reply: { code: number; stage: string } }) =>
  `${r.address} ${r.accepted ? 'accepted' : 'refused'} ${r.reply.code} ${r.reply.stage}`;

describe('outbound client against hostile servers', () => {
  it('421 to the final dot, then close (Gmail): the attempt ends with the 421 and frees its slot', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('421 4.7.0 Try again later, closing connection.\r\n');
      conn.end();
    });
    const pool = newPool(1);
    for (let i = 0; i < 2; i++) {
      const report = await attempt(pool, server.port);
      const [r] = report.recipients;
      assert.equal(r?.accepted, false);
      assert.equal(r?.reply.code, 421);
      assert.equal(r?.reply.enhanced, '4.7.0');
      assert.equal(r?.reply.stage, 'data');
    }
    // The one connection slot came back both times, and the closed session was not reused.
    assert.equal(server.connections, 2);
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('a refused message ends its transaction: the next MAIL follows on the same connection, no RSET', async () => {
    const server = await peer(async (conn, index) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      if (index > 0) {
        conn.write('250 2.0.0 queued\r\n');
        return;
      }
      conn.write('550 5.7.1 content refused\r\n');
      // A refused message ends the transaction: Herald needs no RSET here, so the next MAIL comes.
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('451 4.3.0 try later\r\n');
      await conn.closed;
    });
    const pool = newPool(1);
    const first = await attempt(pool, server.port);
    assert.deepEqual(first.recipients.map(summary), ['a@dest.test refused 550 data']);
    const second = await attempt(pool, server.port);
    assert.deepEqual(second.recipients.map(summary), ['a@dest.test refused 451 data']);
    assert.equal(server.connections, 1);
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('a refused DATA leaves a transaction open: RSET that is never answered drops the session in time', async () => {
    const server = await peer(async (conn, index) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      if (index === 0) {
        conn.write('250 ok\r\n250 ok\r\n451 4.3.0 no DATA now\r\n');
        await conn.expect('RSET');
        await conn.closed; // silence
        return;
      }
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('250 2.0.0 ok\r\n');
    });
    const pool = newPool(1);
    const first = await attempt(pool, server.port);
    assert.deepEqual(first.recipients.map(summary), ['a@dest.test refused 451 data']);
    const second = await attempt(pool, server.port);
    assert.deepEqual(second.recipients.map(summary), ['a@dest.test accepted 250 data']);
    assert.equal(server.connections, 2, 'the session whose RSET went unanswered was not reused');
    await pool.close();
  });

  it('a connection closed after the final dot with no reply defers with 4.4.2 at DATA', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 2);
      conn.write('250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.destroy();
    });
    const pool = newPool();
    const report = await attempt(pool, server.port, ['a@dest.test', 'b@dest.test']);
    assert.deepEqual(report.recipients.map(summary), [
      'a@dest.test refused 451 data',
      'b@dest.test refused 451 data',
    ]);
    assert.equal(report.recipients[0]!.reply.enhanced, '4.4.2');
    assert.match(report.recipients[0]!.reply.text, /while waiting for the reply to the end of data/);
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('silence after RCPT and a reply dripped byte by byte both hit the command deadline', async () => {
    const silent = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n');
      await conn.closed;
    });
    const dripping = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      for (const byte of '250 ok but very slowly\r\n') {
        conn.write(byte);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    const pool = newPool();
    for (const server of [silent, dripping]) {
      const report = await attempt(pool, server.port);
      const [r] = report.recipients;
      assert.equal(r?.reply.code, 451);
      assert.equal(r?.reply.enhanced, '4.4.2');
      assert.match(r?.reply.text ?? '', /timed out after 400 ms/);
    }
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('a greeting that never comes, or a megabyte line without a newline, fails the session with its stage', async () => {
    const mute = await peer(async (conn) => {
      await conn.closed;
    });
    const flood = await peer(async (conn) => {
      conn.write(`220 ${'x'.repeat(1024 * 1024)}`);
      await conn.closed;
    });
    for (const [server, text] of [
      [mute, /timed out after 400 ms while waiting for the greeting/],
      [flood, /reply line longer than 4096 octets/],
    ] as const) {
      await assert.rejects(
        SmtpSession.open(
          { address: HOST, port: server.port, hostname: 'mx.dest.test', tls: 'none', tlsVerify: false },
          'herald.test',
          TIMEOUTS,
        ),
        (err: { reply: { code: number; stage: string; text: string } }) => {
          assert.equal(err.reply.code, 451);
          assert.equal(err.reply.stage, 'greeting');
          assert.match(err.reply.text, text);
          return true;
        },
      );
    }
  });

  it('plaintext sent after the STARTTLS reply is refused as a protocol error (CVE-2011-0411)', async () => {
    const server = await peer(async (conn) => {
      await greet(conn, ['STARTTLS', 'PIPELINING']);
      await conn.expect('STARTTLS');
      conn.write('220 go ahead\r\n250 injected\r\n');
      await conn.closed;
    });
    await assert.rejects(
      SmtpSession.open(
        {
          address: HOST,
          port: server.port,
          hostname: 'mx.dest.test',
          // Required: opportunistic TLS would connect again in plaintext (the next test).
          tls: 'require',
          tlsVerify: false,
        },
        'herald.test',
        TIMEOUTS,
      ),
      (err: { reply: { stage: string; text: string } }) => {
        assert.equal(err.reply.stage, 'starttls');
        assert.match(err.reply.text, /server sent data after its STARTTLS reply/);
        return true;
      },
    );
  });

  it('opportunistic TLS whose handshake fails connects again and delivers in plaintext (Postfix RETRY_AS_PLAINTEXT); not with tls_verify', async () => {
    const server = await peer(async (conn, index) => {
      await greet(conn, ['STARTTLS', 'PIPELINING']);
      if (index === 0) {
        await brokenTls(conn);
        return;
      }
      await acceptOneAndQuit(conn);
    });
    const pool = newPool();
    const report = await attempt(pool, server.port);
    assert.deepEqual(report.recipients.map(summary), ['a@dest.test accepted 250 data']);
    assert.equal(report.host?.tls, false);
    assert.match(report.host?.tlsFallback ?? '', /starttls|TLS|handshake/i);
    assert.equal(server.connections, 2);
    await pool.close();

    // With the certificate to be verified, a failed handshake is a failure, not a downgrade.
    const strict = await peer(async (conn) => {
      await greet(conn, ['STARTTLS', 'PIPELINING']);
      await brokenTls(conn);
    });
    await assert.rejects(
      SmtpSession.open(
        { address: HOST, port: strict.port, hostname: 'mx.dest.test', tls: 'opportunistic', tlsVerify: true },
        'herald.test',
        TIMEOUTS,
      ),
      (err: { reply: { stage: string } }) => {
        assert.equal(err.reply.stage, 'starttls');
        return true;
      },
    );
    assert.equal(strict.connections, 1);
  });

  it('STARTTLS, EHLO again, and a transaction over TLS', async () => {
    const tlsMaterial = await selfSignedCertificate();
    const server = await peer(async (conn) => {
      await greet(conn, ['STARTTLS', 'PIPELINING']);
      await conn.expect('STARTTLS');
      conn.write('220 go ahead\r\n');
      await conn.startTls(tlsMaterial);
      await conn.expect('EHLO');
      conn.write('250-peer.test\r\n250 PIPELINING\r\n');
      await acceptOneAndQuit(conn);
    });
    const pool = newPool();
    const report = await attempt(pool, server.port);
    assert.deepEqual(report.recipients.map(summary), ['a@dest.test accepted 250 data']);
    assert.equal(report.host?.tls, true);
    assert.match(report.host?.tlsVersion ?? '', /^TLSv1\.[23]$/);
    await pool.close();
  });

  it('a server without ESMTP: HELO after a refused EHLO, then one command at a time', async () => {
    const received: string[] = [];
    const server = await peer(async (conn) => {
      conn.write('220 old.test\r\n');
      await conn.expect('EHLO');
      conn.write('502 5.5.2 command not recognized\r\n');
      await conn.expect('HELO');
      conn.write('250 old.test\r\n');
      received.push(await conn.expect('MAIL FROM'));
      conn.write('250 ok\r\n');
      received.push(await conn.expect('RCPT TO'));
      conn.write('550 5.1.1 unknown\r\n');
      received.push(await conn.expect('RCPT TO'));
      conn.write('250 ok\r\n');
      await conn.expect('DATA');
      conn.write('354 go\r\n');
      received.push((await conn.data()).toString());
      conn.write('250 ok\r\n');
    });
    const pool = newPool();
    const stuffed = Buffer.from('Subject: t\n\n.leading dot\nend');
    const report = await deliverAttempt(pool, {
      from: 'f@src.test',
      recipients: ['gone@dest.test', 'b@dest.test'],
      body: stuffed,
      hosts: [{ hostname: 'old.test', addresses: [HOST], port: server.port }],
      tls: 'opportunistic',
      tlsVerify: false,
    });
    await pool.close();
    assert.deepEqual(report.recipients.map(summary), [
      'gone@dest.test refused 550 rcpt',
      'b@dest.test accepted 250 data',
    ]);
    assert.deepEqual(received, [
      'MAIL FROM:<f@src.test>',
      'RCPT TO:<gone@dest.test>',
      'RCPT TO:<b@dest.test>',
      'Subject: t\r\n\r\n..leading dot\r\nend\r\n.\r\n',
    ]);
  });

  it('every RCPT refused (pipelined, DATA refused): RSET, and the connection serves the next message', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n');
      await conn.expect('RSET');
      conn.write('250 ok\r\n');
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('250 2.0.0 ok\r\n');
      await conn.closed;
    });
    const pool = newPool(1);
    const first = await attempt(pool, server.port, ['gone@dest.test']);
    assert.deepEqual(first.recipients.map(summary), ['gone@dest.test refused 550 rcpt']);
    const second = await attempt(pool, server.port, ['b@dest.test']);
    assert.deepEqual(second.recipients.map(summary), ['b@dest.test accepted 250 data']);
    assert.equal(server.connections, 1);
    await pool.close();
  });

  it('421 to the first RCPT then close: that recipient gets the 421, the others the lost connection', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 2);
      conn.write('250 ok\r\n421 4.3.2 shutting down\r\n');
      conn.end();
    });
    const pool = newPool();
    const report = await attempt(pool, server.port, ['a@dest.test', 'b@dest.test']);
    assert.deepEqual(report.recipients.map(summary), [
      'a@dest.test refused 421 rcpt',
      'b@dest.test refused 451 rcpt',
    ]);
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('a refused MAIL: every recipient gets its reply (a 421 that closes, or a 5xx after which the session goes on)', async () => {
    const server = await peer(async (conn, index) => {
      await greet(conn);
      await readEnvelope(conn, 2);
      if (index === 0) {
        conn.write('421 4.7.0 too many connections\r\n');
        conn.end();
        return;
      }
      conn.write(
        '553 5.7.1 sender refused\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n',
      );
      await conn.expect('RSET');
      conn.write('250 ok\r\n');
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('250 2.0.0 ok\r\n');
      await conn.closed;
    });
    const pool = newPool(1);
    const first = await attempt(pool, server.port, ['a@dest.test', 'b@dest.test']);
    assert.deepEqual(first.recipients.map(summary), [
      'a@dest.test refused 421 mail',
      'b@dest.test refused 421 mail',
    ]);
    const second = await attempt(pool, server.port, ['a@dest.test', 'b@dest.test']);
    assert.deepEqual(second.recipients.map(summary), [
      'a@dest.test refused 553 mail',
      'b@dest.test refused 553 mail',
    ]);
    const third = await attempt(pool, server.port, ['c@dest.test']);
    assert.deepEqual(third.recipients.map(summary), ['c@dest.test accepted 250 data']);
    assert.equal(server.connections, 2);
    await pool.close();
  });

  it('a 250 to DATA is not a delivery: nothing was sent, the recipients are deferred', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 2);
      conn.write('250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 2.0.0 ok, whatever\r\n');
      await conn.closed;
    });
    const pool = newPool();
    const report = await attempt(pool, server.port, ['a@dest.test', 'gone@dest.test']);
    // The replies are out of step, so the 550 may have been meant for another command: the RCPT
    // refusal does not stand either (recipient-replies.test.ts: a shifted reused connection).
    assert.deepEqual(report.recipients.map(summary), [
      'a@dest.test refused 451 data',
      'gone@dest.test refused 451 data',
    ]);
    assert.match(report.recipients[0]!.reply.text, /answered DATA with 250 instead of 354/);
    await pool.close();
    assert.equal(pool.openConnections, 0);
  });

  it('pipelined replies are due within command_timeout of the write, however many recipients', async () => {
    const server = await peer(async (conn) => {
      await greet(conn);
      await readEnvelope(conn, 4);
      // Each reply just inside the 400 ms command deadline, but the group far past it.
      for (const reply of ['250 ok', '250 ok', '250 ok', '250 ok', '250 ok', '354 go']) {
        await new Promise((r) => setTimeout(r, 300));
        conn.write(`${reply}\r\n`);
      }
      // Were the client still there, the message would be taken.
      await conn.data();
      conn.write('250 2.0.0 ok\r\n');
    });
    const pool = newPool();
    const report = await attempt(pool, server.port, [
      'a@dest.test',
      'b@dest.test',
      'c@dest.test',
      'd@dest.test',
    ]);
    assert.ok(
      report.recipients.every((r) => !r.accepted && /timed out after \d+ ms/.test(r.reply.text)),
      report.recipients.map((r) => r.reply.text).join('; '),
    );
    await pool.close();
  });

  it('a server that floods an idle pooled connection with replies loses it; memory stays bounded', async () => {
    const flood = `${'250-'.concat('x'.repeat(4000), '\r\n').repeat(199)}250 end\r\n`;
    const server = await peer(async (conn, index) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      conn.write('250 2.0.0 ok\r\n');
      if (index === 0) for (let i = 0; i < 8 && !conn.destroyed; i++) conn.write(flood);
      await conn.closed;
    });
    const pool = newPool(2);
    assert.equal((await attempt(pool, server.port)).recipients[0]?.accepted, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await attempt(pool, server.port)).recipients[0]?.accepted, true);
    assert.equal(server.connections, 2, 'the flooded connection was dropped, not reused');
    await pool.close();
  });

  it('replies nobody asked for are capped in bytes: a flood kills the connection instead of filling memory', async () => {
    let flooded!: () => void;
    const gone = new Promise<void>((resolve) => {
      flooded = resolve;
    });
    const server = await peer(async (conn) => {
      conn.write('220 peer.test\r\n');
      const flood = `${'250-'.concat('x'.repeat(4000), '\r\n').repeat(199)}250 end\r\n`;
      for (let i = 0; i < 16 && !conn.destroyed; i++) conn.write(flood);
      await conn.closed;
      flooded();
    });
    const wire = new SmtpWire(await connectNoDelay({ host: HOST, port: server.port, timeoutMs: 1_000 }));
    assert.equal((await wire.read(1_000, 'the greeting')).code, 220);
    const within = await Promise.race([
      gone.then(() => true),
      new Promise((r) => setTimeout(r, 5_000, false)),
    ]);
    assert.equal(within, true, 'the client dropped the connection');
    assert.equal(wire.alive, false);
    await assert.rejects(wire.read(100, 'a reply'), /too many unrequested replies/);
  });

  it('an idle pooled connection that said "421 timeout" is not reused', async () => {
    const server = await peer(async (conn, index) => {
      await greet(conn);
      await readEnvelope(conn, 1);
      conn.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await conn.data();
      // One write: the 421 arrives with the 250, while the session goes back to the pool.
      conn.write(index === 0 ? '250 2.0.0 ok\r\n421 4.4.2 idle timeout\r\n' : '250 2.0.0 ok\r\n');
      await conn.closed;
    });
    const pool = newPool(2);
    assert.equal((await attempt(pool, server.port)).recipients[0]?.accepted, true);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await attempt(pool, server.port)).recipients[0]?.accepted, true);
    assert.equal(server.connections, 2);
    await pool.close();
  });

  it('a non-ASCII address to a server without SMTPUTF8 bounces 5.6.7 without a MAIL command', async () => {
    const commands: string[] = [];
    const server = await peer(async (conn) => {
      await greet(conn);
      for (;;) commands.push(await conn.line());
    });
    const pool = newPool();
    const report = await attempt(pool, server.port, ['josé@dest.test']);
    assert.equal(report.recipients[0]?.reply.code, 553);
    assert.equal(report.recipients[0]?.reply.enhanced, '5.6.7');
    await pool.close();
    assert.deepEqual(commands, ['QUIT']);
  });

  it('a refused AUTH defers (4.7.8) and never shows the password', async () => {
    const server = await peer(async (conn) => {
      await greet(conn, ['AUTH PLAIN LOGIN']);
      await conn.expect('AUTH PLAIN');
      conn.write('535 5.7.8 bad credentials\r\n');
      await conn.closed;
    });
    await assert.rejects(
      SmtpSession.open(
        {
          address: HOST,
          port: server.port,
          hostname: 'smarthost.test',
          tls: 'none',
          tlsVerify: false,
          auth: { username: 'user', password: 'hunter2-secret' },
        },
        'herald.test',
        TIMEOUTS,
      ),
      (err: Error & { reply: { code: number; enhanced: string; stage: string; text: string } }) => {
        assert.equal(err.reply.code, 451);
        assert.equal(err.reply.enhanced, '4.7.8');
        assert.equal(err.reply.stage, 'auth');
        assert.doesNotMatch(`${err.message} ${err.reply.text}`, /hunter2/);
        return true;
      },
    );
  });
});
