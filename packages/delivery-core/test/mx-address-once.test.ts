/**
 * One attempt tries each (address, port) once (smtp/deliver.ts), against real smtp-server sinks on
 * 127.0.0.x: an address listed under two MX names is not asked again under the second name, so a
 * server that deferred the recipients does not see them twice, and a dead address listed twice
 * spends mx_address_limit once, leaving room for a healthy third MX. The retry on a fresh
 * connection when a pooled one had been dropped while idle still happens at that address, and
 * what it defers still goes on to the next MX at another address.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closedPort, DROP, replyWith, type SmtpSinkHandle, startSmtpSink } from '@herald/test-harness';
import { type AttemptRequest, type CandidateHost, deliverAttempt } from '../src/smtp/index.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 2_000, greetingMs: 2_000, commandMs: 5_000, dataMs: 5_000 };
const body = Buffer.from('Subject: one address, two names\r\n\r\nhello\r\n');
const SHARED = '127.0.0.51';
const OTHER = '127.0.0.52';
const DEAD = '127.0.0.53';
const BUSY = { code: 451, enhanced: '4.3.0', text: 'busy, try later' };

function request(hosts: CandidateHost[], more: Partial<AttemptRequest> = {}): AttemptRequest {
  return {
    from: 'a@sender.test',
    recipients: ['ok@dest.test'],
    body,
    hosts,
    tls: 'none',
    tlsVerify: false,
    ...more,
  };
}

/** MAIL commands each connection of `sink` received, in connection order. */
const mailsPerConnection = (sink: SmtpSinkHandle) =>
  sink.transcripts().map((t) => t.entries.filter((e) => /^MAIL /i.test(e.command)).length);

const outcomes = (report: Awaited<ReturnType<typeof deliverAttempt>>) =>
  report.recipients.map((r) => [r.address, r.accepted, r.reply.code, r.reply.host ?? null]);
const errorsOf = (report: Awaited<ReturnType<typeof deliverAttempt>>) =>
  report.hostErrors.map((e) => [e.hostname, e.address, e.reply.code, e.reply.stage]);

describe('an address listed under two MX names is tried once per attempt', () => {
  it('a server that deferred at MAIL under the first name is not asked again under the second; the third MX delivers', async () => {
    const shared = await startSmtpSink({ host: SHARED, script: { mail: BUSY } });
    const other = await startSmtpSink({ host: OTHER });
    try {
      const hosts = [
        { hostname: 'mx1.dest.test', addresses: [SHARED], port: shared.port },
        { hostname: 'mx2.dest.test', addresses: [SHARED], port: shared.port },
        { hostname: 'mx3.dest.test', addresses: [OTHER], port: other.port },
      ];
      const pool = testPool(TIMEOUTS);
      // Two servers at most: without the once-per-address rule mx2 (the same server) took the second.
      const report = await deliverAttempt(pool, request(hosts, { maxSessions: 2 }));
      await pool.close();
      assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx3.dest.test']]);
      assert.deepEqual(errorsOf(report), [['mx1.dest.test', SHARED, 451, 'mail']]);
      assert.equal(shared.stats().transactions, 1, 'the shared server saw one MAIL');
      assert.deepEqual(
        other.messages.map((m) => m.to),
        [['ok@dest.test']],
      );
    } finally {
      await Promise.all([shared.close(), other.close()]);
    }
  });

  it('a refused address listed twice spends mx_address_limit once: the healthy MX within the limit of 2 delivers', async () => {
    const other = await startSmtpSink({ host: OTHER });
    try {
      const deadPort = await closedPort(DEAD);
      const hosts = [
        { hostname: 'mx1.dest.test', addresses: [DEAD], port: deadPort },
        { hostname: 'mx2.dest.test', addresses: [DEAD], port: deadPort },
        { hostname: 'mx3.dest.test', addresses: [OTHER], port: other.port },
      ];
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts, { maxAddresses: 2 }));
      await pool.close();
      assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx3.dest.test']]);
      assert.deepEqual(
        report.hostErrors.map((e) => [e.hostname, e.address, e.reply.stage]),
        [['mx1.dest.test', DEAD, 'connect']],
        'one connection attempt to the dead address, under its first name',
      );
    } finally {
      await other.close();
    }
  });

  it('one IPv6 address written two ways is one server', async () => {
    const shared = await startSmtpSink({ host: '::1', script: { mail: BUSY } });
    try {
      const hosts = [
        { hostname: 'mx1.dest.test', addresses: ['::1'], port: shared.port },
        { hostname: 'mx2.dest.test', addresses: ['0:0:0:0:0:0:0:1'], port: shared.port },
      ];
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts));
      await pool.close();
      assert.deepEqual(errorsOf(report), [['mx1.dest.test', '::1', 451, 'mail']]);
      assert.equal(shared.stats().transactions, 1);
    } finally {
      await shared.close();
    }
  });

  it('one address at two ports is two servers: both are tried', async () => {
    const first = await startSmtpSink({ host: SHARED, script: { mail: BUSY } });
    const second = await startSmtpSink({ host: SHARED, script: { mail: BUSY } });
    try {
      const hosts = [
        { hostname: 'mx1.dest.test', addresses: [SHARED], port: first.port },
        { hostname: 'mx2.dest.test', addresses: [SHARED], port: second.port },
      ];
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts));
      await pool.close();
      assert.deepEqual(errorsOf(report), [
        ['mx1.dest.test', SHARED, 451, 'mail'],
        ['mx2.dest.test', SHARED, 451, 'mail'],
      ]);
      assert.deepEqual([first.stats().transactions, second.stats().transactions], [1, 1]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

describe('a pooled connection dropped while idle, at an address listed twice', () => {
  /** The shared server drops the pooled connection at its second MAIL; later ones get `later`. */
  async function droppedThen(later: 'accept' | 'defer') {
    const shared = await startSmtpSink({
      host: SHARED,
      script: {
        stages: {
          mail: (ctx) =>
            ctx.connection === 1 && ctx.transaction === 2
              ? DROP
              : ctx.connection > 1 && later === 'defer'
                ? replyWith(BUSY.code, BUSY.enhanced, BUSY.text)
                : undefined,
        },
      },
    });
    const other = await startSmtpSink({ host: OTHER });
    const hosts = [
      { hostname: 'mx1.dest.test', addresses: [SHARED], port: shared.port },
      { hostname: 'mx2.dest.test', addresses: [SHARED], port: shared.port },
      { hostname: 'mx3.dest.test', addresses: [OTHER], port: other.port },
    ];
    const pool = testPool(TIMEOUTS);
    try {
      const first = await deliverAttempt(pool, request(hosts, { recipients: ['first@dest.test'] }));
      assert.deepEqual(outcomes(first), [['first@dest.test', true, 250, 'mx1.dest.test']]);
      const second = await deliverAttempt(pool, request(hosts, { maxSessions: 2 }));
      return { shared, other, second };
    } finally {
      await pool.close();
      await Promise.all([shared.close(), other.close()]);
    }
  }

  it('is tried again once on a fresh connection, which delivers', async () => {
    const { shared, other, second } = await droppedThen('accept');
    assert.deepEqual(outcomes(second), [['ok@dest.test', true, 250, 'mx1.dest.test']]);
    assert.deepEqual(second.hostErrors, []);
    assert.deepEqual(mailsPerConnection(shared), [2, 1], 'the pooled connection, then one fresh one');
    assert.deepEqual(
      shared.messages.map((m) => m.to),
      [['first@dest.test'], ['ok@dest.test']],
    );
    assert.equal(other.stats().connections, 0);
  });

  it('when the fresh connection defers, the recipient goes on to the MX at another address, not to the same server again', async () => {
    const { shared, other, second } = await droppedThen('defer');
    assert.deepEqual(outcomes(second), [['ok@dest.test', true, 250, 'mx3.dest.test']]);
    assert.deepEqual(errorsOf(second), [['mx1.dest.test', SHARED, 451, 'mail']]);
    assert.deepEqual(mailsPerConnection(shared), [2, 1], 'no MAIL under the second name');
    assert.deepEqual(
      other.messages.map((m) => m.to),
      [['ok@dest.test']],
    );
  });
});
