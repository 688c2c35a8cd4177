/**
 * An attempt's move to the next MX host after a temporary failure once the transaction started
 * (smtp/deliver.ts, next-host.ts), against real smtp-server sinks with scripted replies on
 * 127.0.0.x: the first MX defers (MAIL, one RCPT, the end of data, a dropped connection), the
 * second takes what it deferred in the same attempt; a 5xx, a connection lost after the final dot
 * and mx_session_limit keep the second MX out. Every recipient is delivered at most once. The
 * first MX's session, kept idle in the pool, gives up its site-wide slot when the second needs
 * it, so a limit of one connection (a concurrency window shrunk to 1) does not keep the second out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DROP,
  replyAndClose,
  type SinkScript,
  type SmtpSinkHandle,
  STALL_FOREVER,
  startSmtpSink,
} from '@herald/test-harness';
import { type AttemptRequest, type CandidateHost, deliverAttempt, SmtpPool } from '../src/smtp/index.js';
import { oneSiteSlot } from './fixtures/one-site-slot.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 2_000, greetingMs: 2_000, commandMs: 5_000, dataMs: 5_000 };
/** The deadline of the reply to the final dot in the "no reply after the dot" case. */
const SHORT_DATA_MS = 300;
const body = Buffer.from('Subject: next MX\r\n\r\nhello\r\n');
const FIRST = '127.0.0.41';
const SECOND = '127.0.0.42';

interface Pair {
  first: SmtpSinkHandle;
  second: SmtpSinkHandle;
  hosts: CandidateHost[];
}

/** Two MX hosts, best first: the first with `script`, the second a plain sink; closed after `run`. */
async function withMx(script: SinkScript, run: (mx: Pair) => Promise<void>): Promise<void> {
  const first = await startSmtpSink({ host: FIRST, script });
  const second = await startSmtpSink({ host: SECOND });
  try {
    const hosts = [
      { hostname: 'mx1.dest.test', addresses: [FIRST], port: first.port },
      { hostname: 'mx2.dest.test', addresses: [SECOND], port: second.port },
    ];
    await run({ first, second, hosts });
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
}

function request(
  hosts: CandidateHost[],
  recipients: string[],
  more: Partial<AttemptRequest> = {},
): AttemptRequest {
  return { from: 'a@sender.test', recipients, body, hosts, tls: 'none', tlsVerify: false, ...more };
}

/** Each recipient's count of deliveries over the sinks. */
function deliveries(...sinks: SmtpSinkHandle[]): Record<string, number> {
  const count: Record<string, number> = {};
  for (const sink of sinks)
    for (const m of sink.messages) for (const to of m.to) count[to] = (count[to] ?? 0) + 1;
  return count;
}

const outcomes = (report: Awaited<ReturnType<typeof deliverAttempt>>) =>
  report.recipients.map((r) => [r.address, r.accepted, r.reply.code, r.reply.host ?? null]);
const errorsOf = (report: Awaited<ReturnType<typeof deliverAttempt>>) =>
  report.hostErrors.map((e) => [e.hostname, e.reply.code, e.reply.stage]);

describe('a temporary failure after the session is set up moves on to the next MX', () => {
  it('the first MX answers MAIL FROM 451: the second delivers in the same attempt', async () => {
    await withMx(
      { mail: { code: 451, enhanced: '4.3.0', text: 'try later' } },
      async ({ first, second, hosts }) => {
        const pool = testPool(TIMEOUTS);
        const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test']));
        await pool.close();
        assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx2.dest.test']]);
        assert.equal(report.host?.address, SECOND);
        assert.deepEqual(errorsOf(report), [['mx1.dest.test', 451, 'mail']]);
        assert.match(report.hostErrors[0]!.localAddress ?? '', /^127\./);
        assert.equal(report.connectionReply, undefined);
        assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
        // The session that refused MAIL was reset (RSET answered), so the pool could keep it.
        const commands = first.transcripts().flatMap((t) => t.entries.map((e) => e.command.split(/[ :]/)[0]));
        assert.ok(commands.includes('RSET'), `RSET after the refused MAIL: ${commands.join(' ')}`);
      },
    );
  });

  it('the first MX answers one of two RCPTs 452: that one goes via the second, the other is delivered once', async () => {
    const rcpt = { 'busy@dest.test': { code: 452, enhanced: '4.2.2', text: 'mailbox busy' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      let slots = 0;
      const messageSlot = async () => {
        slots++;
        return true;
      };
      const report = await deliverAttempt(
        pool,
        request(hosts, ['ok@dest.test', 'busy@dest.test'], { messageSlot }),
      );
      await pool.close();
      assert.deepEqual(outcomes(report), [
        ['ok@dest.test', true, 250, 'mx1.dest.test'],
        ['busy@dest.test', true, 250, 'mx2.dest.test'],
      ]);
      assert.deepEqual(errorsOf(report), [['mx1.dest.test', 452, 'rcpt']]);
      assert.deepEqual(
        first.messages.map((m) => m.to),
        [['ok@dest.test']],
      );
      assert.deepEqual(
        second.messages.map((m) => m.to),
        [['busy@dest.test']],
      );
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1, 'busy@dest.test': 1 });
      assert.equal(slots, 1, 'the second MX got a further message: one of the rate');
    });
  });

  it('the first MX answers the end of data 451: the second delivers', async () => {
    await withMx(
      { data: { code: 451, enhanced: '4.3.0', text: 'queue full' } },
      async ({ first, second, hosts }) => {
        const pool = testPool(TIMEOUTS);
        const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test']));
        await pool.close();
        assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx2.dest.test']]);
        assert.deepEqual(errorsOf(report), [['mx1.dest.test', 451, 'data']]);
        assert.equal(first.truth().get('ok@dest.test')?.received, 1, 'the first MX had the whole message');
        assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
      },
    );
  });

  it('the first MX says 421 at RCPT and closes: the second delivers', async () => {
    const script: SinkScript = { stages: { rcpt: replyAndClose(421, '4.7.0', 'try again later, closing') } };
    await withMx(script, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test']));
      await pool.close();
      assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx2.dest.test']]);
      // The 421 stays in the report: shaping's automation rules read the host errors' replies.
      assert.deepEqual(
        report.hostErrors.map((e) => [e.hostname, e.reply.code, e.reply.enhanced]),
        [['mx1.dest.test', 421, '4.7.0']],
      );
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
    });
  });

  it('the first MX drops the connection at MAIL (before the final dot): the second delivers', async () => {
    await withMx({ stages: { mail: DROP } }, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test']));
      await pool.close();
      assert.deepEqual(outcomes(report), [['ok@dest.test', true, 250, 'mx2.dest.test']]);
      assert.deepEqual(errorsOf(report), [['mx1.dest.test', 451, 'mail']]);
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
    });
  });

  it('both MX hosts defer: the recipients wait with the last reply, both host errors reported', async () => {
    const first = await startSmtpSink({
      host: FIRST,
      script: { mail: { code: 451, enhanced: '4.3.0', text: 'first busy' } },
    });
    const second = await startSmtpSink({
      host: SECOND,
      script: { data: { code: 452, enhanced: '4.3.1', text: 'second out of storage' } },
    });
    try {
      const hosts = [
        { hostname: 'mx1.dest.test', addresses: [FIRST], port: first.port },
        { hostname: 'mx2.dest.test', addresses: [SECOND], port: second.port },
      ];
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts, ['a@dest.test', 'b@dest.test']));
      await pool.close();
      assert.deepEqual(outcomes(report), [
        ['a@dest.test', false, 452, 'mx2.dest.test'],
        ['b@dest.test', false, 452, 'mx2.dest.test'],
      ]);
      assert.equal(report.recipients[0]!.reply.text, 'second out of storage');
      assert.deepEqual(errorsOf(report), [
        ['mx1.dest.test', 451, 'mail'],
        ['mx2.dest.test', 452, 'data'],
      ]);
      assert.equal(report.host?.address, SECOND);
      assert.deepEqual(deliveries(first, second), {});
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

describe('what keeps the second MX out of the attempt', () => {
  it('a 5xx to RCPT at the first MX bounces there and is not tried at the second', async () => {
    const rcpt = { 'gone@dest.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test', 'gone@dest.test']));
      await pool.close();
      assert.deepEqual(outcomes(report), [
        ['ok@dest.test', true, 250, 'mx1.dest.test'],
        ['gone@dest.test', false, 550, 'mx1.dest.test'],
      ]);
      assert.deepEqual(report.hostErrors, []);
      assert.equal(second.stats().connections, 0, 'the second MX is not contacted');
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
    });
  });

  it('no reply after the final dot: deferred, and the second MX is not contacted (it could deliver twice)', async () => {
    await withMx({ stages: { dataEnd: STALL_FOREVER } }, async ({ first, second, hosts }) => {
      const pool = testPool({ ...TIMEOUTS, dataMs: SHORT_DATA_MS });
      const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test']));
      await pool.close();
      const [outcome] = report.recipients;
      assert.equal(outcome?.accepted, false);
      assert.equal(outcome?.reply.code, 451);
      assert.equal(outcome?.reply.stage, 'data');
      assert.equal(report.connectionReply?.stage, 'data', 'a connection-level end (concurrency feedback)');
      assert.deepEqual(report.hostErrors, []);
      assert.equal(report.host?.address, FIRST);
      assert.equal(first.truth().get('ok@dest.test')?.received, 1, 'the first MX had the whole message');
      assert.equal(second.stats().connections, 0, 'the second MX is not contacted');
    });
  });

  it('with mx_session_limit 1 a MAIL 451 ends the attempt at the first server', async () => {
    await withMx(
      { mail: { code: 451, enhanced: '4.3.0', text: 'try later' } },
      async ({ first, second, hosts }) => {
        const pool = testPool(TIMEOUTS);
        const report = await deliverAttempt(pool, request(hosts, ['ok@dest.test'], { maxSessions: 1 }));
        await pool.close();
        assert.deepEqual(outcomes(report), [['ok@dest.test', false, 451, 'mx1.dest.test']]);
        assert.deepEqual(errorsOf(report), [['mx1.dest.test', 451, 'mail']]);
        assert.equal(second.stats().connections, 0, 'no second server');
        assert.deepEqual(deliveries(first, second), {});
      },
    );
  });

  it('with mx_address_limit 1 a RCPT 452 waits for the next attempt', async () => {
    const rcpt = { 'busy@dest.test': { code: 452, enhanced: '4.2.2', text: 'mailbox busy' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      const report = await deliverAttempt(
        pool,
        request(hosts, ['ok@dest.test', 'busy@dest.test'], { maxAddresses: 1 }),
      );
      await pool.close();
      assert.deepEqual(outcomes(report), [
        ['ok@dest.test', true, 250, 'mx1.dest.test'],
        ['busy@dest.test', false, 452, 'mx1.dest.test'],
      ]);
      assert.equal(second.stats().connections, 0);
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
    });
  });

  it('no message of the rate for the second MX: the deferred recipient waits, no second server', async () => {
    const rcpt = { 'busy@dest.test': { code: 452, enhanced: '4.2.2', text: 'mailbox busy' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const pool = testPool(TIMEOUTS);
      const messageSlot = async () => false;
      const report = await deliverAttempt(
        pool,
        request(hosts, ['ok@dest.test', 'busy@dest.test'], { messageSlot }),
      );
      await pool.close();
      assert.equal(report.recipients[0]?.accepted, true);
      assert.equal(report.recipients[1]?.accepted, false);
      assert.equal(report.recipients[1]?.reply.enhanced, '4.4.5');
      assert.equal(second.stats().connections, 0);
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1 });
    });
  });
});

/** A pool whose site-wide connections are `leases`' (the sessions idle long enough to be reused). */
function slotPool(leases: ReturnType<typeof oneSiteSlot>): SmtpPool {
  return new SmtpPool({
    leases,
    ehloName: 'herald.test',
    timeouts: TIMEOUTS,
    maxConnectionsPerHost: 5,
    maxMessagesPerConnection: 10,
    idleTimeoutMs: 5_000,
  });
}

describe('the site-wide connection limit and the next MX', () => {
  it('at a limit of one connection, the first MX defers a RCPT 452 and the second still delivers it', async () => {
    const rcpt = { 'busy@dest.test': { code: 452, enhanced: '4.2.2', text: 'mailbox busy' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const leases = oneSiteSlot();
      const pool = slotPool(leases);
      const report = await deliverAttempt(
        pool,
        request(hosts, ['ok@dest.test', 'busy@dest.test'], { site: 'dest', siteMaxConnections: 1 }),
      );
      await pool.close();
      assert.deepEqual(outcomes(report), [
        ['ok@dest.test', true, 250, 'mx1.dest.test'],
        ['busy@dest.test', true, 250, 'mx2.dest.test'],
      ]);
      assert.deepEqual(errorsOf(report), [['mx1.dest.test', 452, 'rcpt']]);
      assert.equal(leases.refused, 1, "the first MX's idle session held the slot, then gave it up");
      assert.equal(first.stats().connections, 1);
      assert.equal(second.stats().connections, 1);
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1, 'busy@dest.test': 1 });
    });
  });

  it('at a limit of one connection, an attempt that ends at the first MX keeps its session for reuse', async () => {
    const rcpt = { 'busy@dest.test': { code: 452, enhanced: '4.2.2', text: 'mailbox busy' } };
    await withMx({ rcpt }, async ({ first, second, hosts }) => {
      const leases = oneSiteSlot();
      const pool = slotPool(leases);
      const limits = { site: 'dest', siteMaxConnections: 1, maxAddresses: 1 };
      const one = await deliverAttempt(pool, request(hosts, ['ok@dest.test', 'busy@dest.test'], limits));
      const two = await deliverAttempt(pool, request(hosts, ['ok2@dest.test'], limits));
      await pool.close();
      assert.deepEqual(outcomes(one), [
        ['ok@dest.test', true, 250, 'mx1.dest.test'],
        ['busy@dest.test', false, 452, 'mx1.dest.test'],
      ]);
      assert.deepEqual(outcomes(two), [['ok2@dest.test', true, 250, 'mx1.dest.test']]);
      assert.equal(first.stats().connections, 1, "the second attempt reused the first one's connection");
      assert.equal(second.stats().connections, 0);
      assert.deepEqual(deliveries(first, second), { 'ok@dest.test': 1, 'ok2@dest.test': 1 });
    });
  });
});
