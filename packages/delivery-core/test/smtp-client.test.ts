/**
 * The outbound SMTP client against real smtp-server sinks on 127.0.0.x: per-recipient results,
 * connection reuse, next-host fallback within one attempt, reply parsing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closedPort, type SmtpSinkHandle, startSmtpSink } from '@herald/test-harness';
import { type CandidateHost, deliverAttempt, parseReply } from '../src/smtp/index.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 2_000, greetingMs: 2_000, commandMs: 5_000, dataMs: 5_000 };
const body = Buffer.from('Subject: test\r\n\r\nhello\r\n');

function newPool(maxConnectionsPerHost = 5) {
  return testPool(TIMEOUTS, { maxConnectionsPerHost, maxMessagesPerConnection: 3, idleTimeoutMs: 1_000 });
}

describe('outbound SMTP client', () => {
  let good: SmtpSinkHandle;
  let greeting421: SmtpSinkHandle;
  before(async () => {
    good = await startSmtpSink({
      host: '127.0.0.2',
      script: { rcpt: { 'gone@dest.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
    });
    greeting421 = await startSmtpSink({
      host: '127.0.0.3',
      port: good.port,
      script: { greeting: { code: 421, enhanced: '4.7.0', text: 'try later' } },
    });
  });
  after(async () => {
    await good.close();
    await greeting421.close();
  });

  const host = (address: string, port = good.port): CandidateHost => ({
    hostname: `mx-${address}`,
    addresses: [address],
    port,
  });

  it('reports one result per recipient in one transaction', async () => {
    const pool = newPool();
    const report = await deliverAttempt(pool, {
      from: 'a@sender.test',
      recipients: ['ok@dest.test', 'gone@dest.test'],
      body,
      hosts: [host('127.0.0.2')],
      tls: 'opportunistic',
      tlsVerify: false,
    });
    await pool.close();
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.accepted, r.reply.code, r.reply.enhanced ?? null]),
      [
        ['ok@dest.test', true, 250, null],
        ['gone@dest.test', false, 550, '5.1.1'],
      ],
    );
    assert.equal(report.host?.address, '127.0.0.2');
    const received = good.messages.at(-1)!;
    assert.deepEqual(received.to, ['ok@dest.test']);
    assert.equal(received.raw.toString(), body.toString());
  });

  it('reuses a connection for consecutive messages up to the per-connection limit', async () => {
    const pool = newPool(1);
    const before = good.stats().connections;
    for (let i = 0; i < 6; i++) {
      const report = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: [`r${i}@dest.test`],
        body,
        hosts: [host('127.0.0.2')],
        tls: 'none',
        tlsVerify: false,
      });
      assert.equal(report.recipients[0]!.accepted, true);
    }
    await pool.close();
    assert.equal(good.stats().connections - before, 2, '6 messages at 3 per connection take 2 connections');
    assert.equal(pool.stats.reused, 4);
  });

  it("two sites whose MX share an address do not ride each other's connections", async () => {
    const pool = newPool(1);
    const before = good.stats().connections;
    for (const site of ['site-a', 'site-b', 'site-a', 'site-b']) {
      const report = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: [`${site}@dest.test`],
        body,
        hosts: [host('127.0.0.2')],
        tls: 'none',
        tlsVerify: false,
        site,
      });
      assert.equal(report.recipients[0]!.accepted, true);
    }
    assert.deepEqual(
      [...pool.openBySite()].sort(),
      [
        ['site-a', 1],
        ['site-b', 1],
      ],
      'one idle connection per site',
    );
    await pool.close();
    assert.equal(good.stats().connections - before, 2, 'each site opened its own connection, then reused it');
    assert.equal(pool.stats.reused, 2);
  });

  it('to a server without PIPELINING it sends each command alone and nothing after the end of data', async () => {
    const plain = await startSmtpSink({ host: '127.0.0.4', pipelining: false });
    const pool = newPool(1);
    try {
      for (let i = 0; i < 2; i++) {
        const report = await deliverAttempt(pool, {
          from: 'a@sender.test',
          recipients: [`p${i}@dest.test`, `q${i}@dest.test`],
          body,
          hosts: [host('127.0.0.4', plain.port)],
          tls: 'none',
          tlsVerify: false,
        });
        assert.deepEqual(
          report.recipients.map((r) => r.accepted),
          [true, true],
        );
      }
      await pool.close();
      const [connection, ...others] = plain.transcripts();
      assert.ok(connection, 'one connection');
      assert.equal(others.length, 0, 'both messages on one connection');
      const lines = connection.entries.filter(
        (e) => (e.stage !== 'greeting' && e.stage !== 'data') || e.command !== '',
      );
      // Every line the client wrote is a command; an empty line (a stray CRLF after the final dot)
      // would be answered by the server and its reply taken for the next command's.
      assert.deepEqual(
        lines.map((e) => e.command.split(/[ :]/)[0]),
        ['EHLO', 'MAIL', 'RCPT', 'RCPT', 'DATA', '.', 'MAIL', 'RCPT', 'RCPT', 'DATA', '.', 'QUIT'],
      );
    } finally {
      await plain.close();
    }
  });

  it("a message over the server's SIZE limit is refused 552 5.3.4 without MAIL (Postfix's check)", async () => {
    const small = await startSmtpSink({ host: '127.0.0.4', size: 100 });
    const pool = newPool(1);
    try {
      const report = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: ['big@dest.test'],
        body: Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(200)}\r\n`),
        hosts: [host('127.0.0.4', small.port)],
        tls: 'none',
        tlsVerify: false,
      });
      const [recipient] = report.recipients;
      assert.equal(recipient?.accepted, false);
      assert.equal(recipient?.reply.code, 552);
      assert.equal(recipient?.reply.enhanced, '5.3.4');
      assert.match(recipient?.reply.text ?? '', /exceeds size limit 100 of server/);
      await pool.close();
      const commands = small.transcripts().flatMap((c) => c.entries.map((e) => e.command.split(/[ :]/)[0]));
      assert.ok(!commands.includes('MAIL'), `no MAIL sent: ${commands.join(' ')}`);
    } finally {
      await small.close();
    }
  });

  it('a 5xx greeting refuses that server only (Postfix smtp_skip_5xx_greeting): next host, else deferred', async () => {
    const blocked = await startSmtpSink({
      host: '127.0.0.4',
      port: good.port,
      script: { greeting: { code: 554, enhanced: '5.7.1', text: 'your IP is blocked' } },
    });
    const pool = newPool();
    try {
      const onward = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: ['ok@dest.test'],
        body,
        hosts: [host('127.0.0.4'), host('127.0.0.2')],
        tls: 'opportunistic',
        tlsVerify: false,
      });
      assert.equal(onward.recipients[0]!.accepted, true, 'the next host took the recipient');
      assert.deepEqual(
        onward.hostErrors.map((e) => [e.address, e.reply.code, e.reply.enhanced, e.reply.stage]),
        [['127.0.0.4', 421, '4.7.1', 'greeting']],
      );
      assert.match(onward.hostErrors[0]!.reply.text, /refused to talk to me: 554 5\.7\.1 your IP is blocked/);
      const alone = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: ['ok@dest.test'],
        body,
        hosts: [host('127.0.0.4')],
        tls: 'opportunistic',
        tlsVerify: false,
      });
      const reply = alone.recipients[0]!.reply;
      assert.equal(alone.recipients[0]!.accepted, false);
      assert.equal(reply.code, 421, 'deferred, not bounced');
      assert.match(reply.text, /554 5\.7\.1 your IP is blocked/);
    } finally {
      await pool.close();
      await blocked.close();
    }
  });

  it('a 421 greeting and a refused connection move on to the next host in the same attempt', async () => {
    const pool = newPool();
    const report = await deliverAttempt(pool, {
      from: 'a@sender.test',
      recipients: ['ok@dest.test'],
      body,
      hosts: [host('127.0.0.3'), host('127.0.0.9'), host('127.0.0.2')],
      tls: 'opportunistic',
      tlsVerify: false,
    });
    await pool.close();
    assert.equal(report.recipients[0]!.accepted, true);
    assert.equal(report.host?.address, '127.0.0.2');
    assert.deepEqual(
      report.hostErrors.map((e) => [e.address, e.reply.code, e.reply.stage]),
      [
        ['127.0.0.3', 421, 'greeting'],
        ['127.0.0.9', 451, 'connect'],
      ],
    );
    // Our end of each connection made (a TLS report's sending-mta-ip); none for a refused one.
    assert.match(report.hostErrors[0]!.localAddress ?? '', /^127\./);
    assert.equal(report.hostErrors[1]!.localAddress, undefined);
    assert.match(report.host?.localAddress ?? '', /^127\./);
  });

  it('the attempt host and a connected host error name the bound source address as localAddress', async () => {
    const pool = newPool();
    const report = await deliverAttempt(pool, {
      from: 'a@sender.test',
      recipients: ['ok@dest.test'],
      body,
      hosts: [host('127.0.0.3'), host('127.0.0.2')],
      tls: 'opportunistic',
      tlsVerify: false,
      localAddress: '127.0.0.6',
    });
    await pool.close();
    assert.equal(report.recipients[0]!.accepted, true);
    assert.equal(report.hostErrors[0]!.localAddress, '127.0.0.6');
    assert.equal(report.host?.localAddress, '127.0.0.6');
  });

  it('an attempt tries at most maxAddresses addresses; a server that failed the handshake is not one of its maxSessions', async () => {
    const pool = newPool();
    const dead = await Promise.all(['127.0.0.21', '127.0.0.22', '127.0.0.23'].map((h) => closedPort(h)));
    const refusing = ['127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24', '127.0.0.25', '127.0.0.26'].map(
      (address, i) => host(address, dead[i % dead.length]!),
    );
    const byAddress = await deliverAttempt(pool, {
      from: 'a@sender.test',
      recipients: ['ok@dest.test'],
      body,
      hosts: [...refusing, host('127.0.0.2')],
      tls: 'none',
      tlsVerify: false,
      maxAddresses: 4,
    });
    assert.equal(byAddress.hostErrors.length, 4, 'four addresses tried, then the attempt ends');
    assert.equal(byAddress.recipients[0]!.accepted, false);
    // Three servers (one address is tried once per attempt: each its own) that refuse at the greeting.
    const more421 = await Promise.all(
      ['127.0.0.31', '127.0.0.32'].map((address) =>
        startSmtpSink({
          host: address,
          script: { greeting: { code: 421, enhanced: '4.7.0', text: 'try later' } },
        }),
      ),
    );
    try {
      const bySession = await deliverAttempt(pool, {
        from: 'a@sender.test',
        recipients: ['ok@dest.test'],
        body,
        hosts: [host('127.0.0.3'), ...more421.map((s) => host(s.host, s.port)), host('127.0.0.2')],
        tls: 'none',
        tlsVerify: false,
        maxSessions: 2,
      });
      assert.deepEqual(
        bySession.hostErrors.map((e) => [e.address, e.reply.code]),
        [
          ['127.0.0.3', 421],
          ['127.0.0.31', 421],
          ['127.0.0.32', 421],
        ],
        'three servers refused at the greeting (no session, as in Postfix)',
      );
      assert.equal(bySession.recipients[0]!.accepted, true, 'the fourth, healthy, took it');
    } finally {
      await pool.close();
      await Promise.all(more421.map((s) => s.close()));
    }
  });

  it('when no host is reachable every recipient is deferred with the last host error', async () => {
    const pool = newPool();
    const report = await deliverAttempt(pool, {
      from: '',
      recipients: ['ok@dest.test'],
      body,
      hosts: [host('127.0.0.9')],
      tls: 'none',
      tlsVerify: false,
    });
    await pool.close();
    assert.equal(report.host, undefined);
    assert.equal(report.recipients[0]!.accepted, false);
    assert.equal(report.recipients[0]!.reply.code, 451);
  });
});

describe('reply parsing', () => {
  it('reads code, enhanced code and text of multi-line replies', () => {
    assert.deepEqual(
      parseReply('550-5.1.1 The email account does not exist.\n550 5.1.1 Please try again', 'rcpt', 'mx'),
      {
        code: 550,
        enhanced: '5.1.1',
        text: 'The email account does not exist. Please try again',
        stage: 'rcpt',
        host: 'mx',
      },
    );
    assert.deepEqual(parseReply('421 Service not available', 'greeting'), {
      code: 421,
      text: 'Service not available',
      stage: 'greeting',
    });
  });
});
