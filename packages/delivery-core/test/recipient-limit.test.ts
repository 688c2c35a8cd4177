/**
 * A server that takes at most LIMIT recipients per transaction and answers the rest "452 4.5.3 Too
 * many recipients" (or RFC 821's 552), scripted on loopback: the recipients over the limit go in
 * further transactions on the same connection (RFC 5321 §4.5.3.1.8's chunks), pipelined or not,
 * instead of waiting for the next attempt's backoff; a transaction that delivers no one stops it.
 * Each further transaction is a message: it counts against max_messages_per_connection (at the cap
 * the rest go on another connection, or wait 4xx when none can be had) and takes a message of the
 * destination's rate (`messageSlot`, the shaping gate's lane rate), the rest waiting when none is free.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DeliveryJobData } from '../src/queue/index.js';
import { FURTHER_MESSAGE_MAX_WAIT_MS, parseShaping, ShapingGate } from '../src/shaping/index.js';
import {
  type AttemptReport,
  type AttemptRequest,
  type ConnectionLeases,
  deliverAttempt,
  SmtpPool,
} from '../src/smtp/index.js';
import type { RateLimiter } from '../src/throttle/index.js';
import { oneSiteSlot } from './fixtures/one-site-slot.js';
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
  /** Transactions delivered per connection, in the order the connections came. */
  perConnection: number[];
}

/** Answers every command as it reads it (pipelined or not); `refuse` answers RCPTs over the limit. */
async function limited(conn: PeerConn, server: LimitServer, refuse: string, take = LIMIT): Promise<void> {
  let accepted: string[] = [];
  const connection = server.perConnection.push(0) - 1;
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
      server.perConnection[connection]! += 1;
      conn.write('250 2.0.0 queued\r\n');
    } else if (verb === 'QUIT') {
      conn.write('221 bye\r\n');
      return;
    } else conn.write('502 5.5.2 what\r\n');
  }
}

/** The pool (default: 10 messages per connection) and what else the attempt is given. */
interface Setup {
  pool?: SmtpPool;
  request?: Partial<AttemptRequest>;
}

async function attempt(
  extensions: string[],
  script: (conn: PeerConn, server: LimitServer) => Promise<void>,
  setup: Setup = {},
): Promise<{ report: AttemptReport; server: LimitServer; connections: number }> {
  const server: LimitServer = { messages: [], perConnection: [] };
  const peer = await startScriptedPeer(HOST, async (conn) => {
    await greet(conn, extensions);
    await script(conn, server);
  });
  peers.push(peer);
  const pool = setup.pool ?? testPool(TIMEOUTS);
  const report = await deliverAttempt(pool, {
    from: 'app@origin.test',
    recipients: RECIPIENTS,
    body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
    hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: peer.port }],
    tls: 'none',
    tlsVerify: false,
    ...setup.request,
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

/** Each recipient as `address delivered` or `address <code> <enhanced>`. */
function outcomes(report: AttemptReport): string[] {
  return report.recipients.map(
    (r) => `${r.address} ${r.accepted ? 'delivered' : `${r.reply.code} ${r.reply.enhanced}`}`,
  );
}

/** A pool of one transaction per connection under the site-wide `leases`, to one site of limit 1. */
async function cappedUnderSiteLimit(leases: ConnectionLeases, maxConnectionsPerHost: number) {
  const pool = new SmtpPool({
    leases,
    ehloName: 'herald.test',
    timeouts: TIMEOUTS,
    maxConnectionsPerHost,
    maxMessagesPerConnection: 1,
    idleTimeoutMs: 5_000,
  });
  return attempt(['PIPELINING'], (conn, s) => limited(conn, s, '452 4.5.3 Too many recipients'), {
    pool,
    request: { site: 'dest', siteMaxConnections: 1 },
  });
}

describe('further transactions are messages: max_messages_per_connection', () => {
  const refuse = '452 4.5.3 Too many recipients';

  it('at the cap the rest go on another connection, each under its own cap', async () => {
    const { report, server, connections } = await attempt(
      ['PIPELINING'],
      (conn, s) => limited(conn, s, refuse),
      { pool: testPool(TIMEOUTS, { maxMessagesPerConnection: 2 }) },
    );
    assert.deepEqual(
      outcomes(report),
      RECIPIENTS.map((r) => `${r} delivered`),
    );
    assert.deepEqual(server.messages, [RECIPIENTS.slice(0, 2), RECIPIENTS.slice(2, 4), RECIPIENTS.slice(4)]);
    assert.deepEqual(server.perConnection, [2, 1]);
    assert.equal(connections, 2);
    assert.equal(report.connectionReply, undefined);
  });

  it("at the cap with a site limit of one, the next connection waits for the closed one's lease", async () => {
    // One site-wide slot, given back only once the old connection's QUIT is done and its release
    // has reached "Redis" (a turn later): asking before that is refused, as a real semaphore does.
    const oneSlot = oneSiteSlot();
    const { report, server, connections } = await cappedUnderSiteLimit(oneSlot, 5);
    assert.deepEqual(
      outcomes(report),
      RECIPIENTS.map((r) => `${r} delivered`),
    );
    assert.deepEqual(server.perConnection, [1, 1, 1]);
    assert.equal(connections, 3);
  });

  it('no other connection under the site limit: the rest wait (4xx, saying why), none bounces', async () => {
    let leases = 0;
    const oneLease: ConnectionLeases = {
      acquire: async () =>
        ++leases === 1 ? { release: async () => {} } : { retryAfterMs: 60_000, reason: 'connections' },
    };
    const { report, server, connections } = await cappedUnderSiteLimit(oneLease, 1);
    assert.deepEqual(server.messages, [RECIPIENTS.slice(0, 2)]);
    assert.equal(connections, 1);
    assert.deepEqual(outcomes(report), [
      ...RECIPIENTS.slice(0, 2).map((r) => `${r} delivered`),
      ...RECIPIENTS.slice(2).map((r) => `${r} 451 4.4.5`),
    ]);
    const waiting = report.recipients.at(-1)!.reply;
    assert.match(waiting.text, /max_messages_per_connection/);
    assert.match(waiting.text, /site dest is at its limit of 1 connections/);
    // The site's own limit, not a connection failure: no concurrency feedback, no host error.
    assert.equal(report.connectionReply, undefined);
    assert.deepEqual(report.hostErrors, []);
  });
});

describe("further transactions are messages: the destination's rate", () => {
  const refuse = '452 4.5.3 Too many recipients';

  it('each takes a message of the rate; when none is free the rest wait 451 4.4.5', async () => {
    let slots = 1;
    let asked = 0;
    const messageSlot = async () => {
      asked++;
      return slots-- > 0;
    };
    const { report, server } = await attempt(['PIPELINING'], (conn, s) => limited(conn, s, refuse), {
      request: { messageSlot },
    });
    assert.deepEqual(server.messages, [RECIPIENTS.slice(0, 2), RECIPIENTS.slice(2, 4)]);
    assert.equal(asked, 2);
    assert.deepEqual(outcomes(report), [
      ...RECIPIENTS.slice(0, 4).map((r) => `${r} delivered`),
      `${RECIPIENTS[4]} 451 4.4.5`,
    ]);
    assert.match(report.recipients[4]!.reply.text, /max_message_rate/);
  });

  it("the shaping gate's admitted attempt takes them from its lane's rate, waiting briefly for one", async () => {
    const asked: string[] = [];
    let free = 1;
    const limiter = {
      reserve: async () => ({ delayMs: 0, at: Date.now() }),
      tryAcquire: async (key: string) => {
        asked.push(key);
        return { allowed: free-- > 0, retryAfterMs: free > 0 ? 0 : FURTHER_MESSAGE_MAX_WAIT_MS + 1 };
      },
    } as unknown as RateLimiter;
    const gate = (sites: Record<string, object>) =>
      new ShapingGate({
        shaping: parseShaping({ sites }),
        siteOf: () => ({ site: 'mx:mx.dest.test' }),
        limiter,
        now: Date.now,
      });
    const admit = (g: ShapingGate) =>
      g.admit({
        domain: 'dest.test',
        hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: 25 }],
        data: { tenant: 'acme', recipients: [] } as unknown as DeliveryJobData,
      });
    const rated = await admit(gate({ 'mx:mx.dest.test': { max_message_rate: '10/s' } }));
    assert.ok(rated.admitted);
    const slot = rated.limits?.messageSlot;
    assert.ok(slot, 'a lane with a rate gives the attempt a messageSlot');
    assert.equal(await slot(), true);
    assert.equal(await slot(), false);
    assert.deepEqual(asked, ['site:mx:mx.dest.test', 'site:mx:mx.dest.test']);
    rated.release();
    const unrated = await admit(gate({}));
    assert.ok(unrated.admitted);
    assert.equal(unrated.limits?.messageSlot, undefined);
    unrated.release();
  });
});
