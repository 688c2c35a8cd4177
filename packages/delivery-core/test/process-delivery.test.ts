/**
 * processDelivery's decisions, with fakes for the spool, resolver and SMTP pool (unit level).
 * End-to-end behaviour on real parts is in /test/delivery.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeliveryDeps, processDelivery } from '../src/delivery/index.js';
import type { Resolver } from '../src/dns/index.js';
import { PermanentError, TransientError } from '../src/errors/index.js';
import type { HeraldEvent } from '../src/events/index.js';
import type { DeliveryJobData, Spool } from '../src/queue/index.js';
import type { SmtpPool } from '../src/smtp/index.js';

const HOUR_MS = 3_600_000;

function job(overrides: Partial<DeliveryJobData> = {}): DeliveryJobData {
  return {
    messageId: 'm1',
    tenant: 't',
    from: 'a@sender.test',
    domain: 'dest.test',
    recipients: [
      { address: 'one@dest.test', state: 'pending' },
      { address: 'two@dest.test', state: 'pending' },
    ],
    attempts: 0,
    acceptedAt: 0,
    size: 10,
    ...overrides,
  };
}

function deps(
  opts: {
    now?: number;
    mx?: () => Promise<never> | Promise<unknown>;
    body?: Buffer | null;
    /** The message's jobs still pending in the spool (default: one). */
    pending?: string[];
  } = {},
) {
  const events: HeraldEvent[] = [];
  const d: DeliveryDeps = {
    spool: {
      getBody: async () => (opts.body === undefined ? Buffer.from('x') : opts.body),
      pendingJobIds: async () => opts.pending ?? ['m1.0'],
    } as unknown as Spool,
    resolver: {
      resolveMxSet: async () => {
        const hosts = (await (opts.mx ?? (async () => []))()) as { exchange: string }[];
        return { hosts, names: hosts.map((h) => h.exchange) };
      },
    } as unknown as Resolver,
    // No host is reachable: acquire always fails with a refused connection.
    pool: {
      acquire: async () => {
        throw new TransientError(
          { code: 451, enhanced: '4.4.1', text: 'refused', stage: 'connect' },
          'network',
        );
      },
    } as unknown as SmtpPool,
    events: { emit: (e) => events.push(e), flush: async () => {} },
    retry: { scheduleMs: [60_000], jitter: 0, maxQueueLifetimeMs: 5 * 24 * HOUR_MS },
    routeFor: () => undefined,
    mxPort: 25,
    tls: 'opportunistic',
    tlsVerify: false,
    now: () => opts.now ?? 1_000,
  };
  return { d, events };
}

const terminal = (events: HeraldEvent[]) =>
  events.filter((e) => e.type !== 'attempt' && e.type !== 'accepted' && e.type !== 'deferred');

describe('processDelivery', () => {
  it('a null MX bounces every recipient with 5.1.10 and never connects', async () => {
    const nullMx = new PermanentError(
      { code: 556, enhanced: '5.1.10', text: 'null MX', stage: 'dns' },
      'dns',
    );
    const { d, events } = deps({ mx: async () => Promise.reject(nullMx) });
    const outcome = await processDelivery(job(), d);
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(
      terminal(events).map((e) => [e.type, 'reply' in e && e.reply.enhanced]),
      [
        ['bounced', '5.1.10'],
        ['bounced', '5.1.10'],
      ],
    );
    assert.equal(events.filter((e) => e.type === 'attempt').length, 0);
  });

  it('a DNS SERVFAIL defers with the schedule, counting the attempt', async () => {
    const servfail = new TransientError(
      { code: 451, enhanced: '4.4.3', text: 'SERVFAIL', stage: 'dns' },
      'dns',
    );
    const { d, events } = deps({ mx: async () => Promise.reject(servfail) });
    const outcome = await processDelivery(job(), d);
    assert.equal(outcome.kind, 'retry');
    assert.equal(outcome.kind === 'retry' && outcome.at, 1_000 + 60_000);
    assert.equal(outcome.data.attempts, 1);
    assert.deepEqual(
      events.map((e) => e.type),
      ['deferred', 'deferred'],
    );
  });

  it('after the queue lifetime, pending recipients expire with 5.4.7 without another attempt', async () => {
    const { d, events } = deps({ now: 6 * 24 * HOUR_MS });
    const outcome = await processDelivery(job({ attempts: 9 }), d);
    assert.equal(outcome.kind, 'done');
    assert.equal(outcome.data.attempts, 9);
    assert.deepEqual(
      terminal(events).map((e) => [e.type, 'reply' in e && e.reply.enhanced]),
      [
        ['expired', '5.4.7'],
        ['expired', '5.4.7'],
      ],
    );
  });

  it('a deferral keeps its reply, and the expiry at the next turn names it as the last error', async () => {
    const servfail = new TransientError(
      { code: 451, enhanced: '4.4.3', text: 'SERVFAIL', stage: 'dns' },
      'dns',
    );
    const first = deps({ mx: async () => Promise.reject(servfail) });
    const deferred = await processDelivery(job(), first.d);
    assert.equal(deferred.kind, 'retry');
    const { d, events } = deps({ now: 6 * 24 * HOUR_MS });
    await processDelivery(deferred.data, d);
    assert.deepEqual(
      terminal(events).map((e) => 'reply' in e && e.reply.text),
      [
        'delivery time expired; last error: 451 4.4.3 SERVFAIL',
        'delivery time expired; last error: 451 4.4.3 SERVFAIL',
      ],
    );
  });

  it('recipients already delivered in an earlier attempt are not sent again', async () => {
    const { d, events } = deps({
      mx: async () => [
        { exchange: 'mx.dest.test', preference: 0, addresses: ['127.0.0.9'], implicit: false },
      ],
    });
    const outcome = await processDelivery(
      job({
        recipients: [
          { address: 'one@dest.test', state: 'delivered' },
          { address: 'two@dest.test', state: 'pending' },
        ],
      }),
      d,
    );
    assert.equal(outcome.kind, 'retry');
    const attempt = events.find((e) => e.type === 'attempt');
    assert.ok(attempt && attempt.type === 'attempt');
    assert.deepEqual(
      attempt.results.map((r) => r.address),
      ['two@dest.test'],
    );
    assert.deepEqual(
      attempt.hostErrors.map((h) => h.address),
      ['127.0.0.9'],
    );
  });

  it('a body missing from the spool bounces with 5.3.0 instead of retrying forever', async () => {
    const { d, events } = deps({ body: null });
    const outcome = await processDelivery(job(), d);
    assert.equal(outcome.kind, 'done');
    assert.deepEqual(
      terminal(events).map((e) => e.type),
      ['bounced', 'bounced'],
    );
  });

  it('a job whose message is not in the spool at all (a write answered 451 that a failover lost) ends without an attempt or a bounce', async () => {
    const { d, events } = deps({ body: null, pending: [] });
    const outcome = await processDelivery(job({ attempts: 1 }), d);
    assert.equal(outcome.kind, 'done');
    assert.equal(outcome.kind === 'done' && outcome.messageGone, true);
    assert.equal(outcome.data.attempts, 1);
    assert.deepEqual(events, []);
  });

  it('a gate that says "not now" reschedules at its time without spending an attempt or connecting', async () => {
    let connects = 0;
    const { d, events } = deps({
      mx: async () => [
        { exchange: 'mx.dest.test', preference: 0, addresses: ['127.0.0.9'], implicit: false },
      ],
    });
    d.pool = {
      acquire: async () => {
        connects++;
        throw new Error('unexpected');
      },
    } as unknown as SmtpPool;
    d.gate = { admit: async () => ({ admitted: false, until: 5_000, reason: 'site rate' }) };
    const outcome = await processDelivery(job({ attempts: 2 }), d);
    assert.equal(outcome.kind, 'throttled');
    assert.equal(outcome.kind === 'throttled' && outcome.at, 5_000);
    assert.equal(outcome.data.attempts, 2);
    assert.equal(connects, 0);
    assert.deepEqual(events, []);
  });

  it('an admitted attempt releases its admission when it ends', async () => {
    let released = 0;
    const { d } = deps({
      mx: async () => [
        { exchange: 'mx.dest.test', preference: 0, addresses: ['127.0.0.9'], implicit: false },
      ],
    });
    d.gate = { admit: async () => ({ admitted: true, release: () => void released++ }) };
    const outcome = await processDelivery(job(), d);
    assert.equal(outcome.kind, 'retry');
    assert.equal(outcome.data.attempts, 1);
    assert.equal(released, 1);
  });

  it('a marked job ends by the operator before its attempt; a fresh fast-lane job reads no mark and is attempted', async () => {
    const mx = async () => [
      { exchange: 'mx.dest.test', preference: 0, addresses: ['127.0.0.9'], implicit: false },
    ];
    const mark = { action: 'delete' as const, at: 1 };
    const marked = deps({ mx });
    let reads = 0;
    marked.d.operatorMark = async () => {
      reads++;
      return mark;
    };
    const ended = await processDelivery(job(), marked.d, { body: Buffer.from('x') });
    assert.equal(ended.kind, 'done');
    assert.equal(reads, 1);
    assert.deepEqual(
      marked.events.map((e) => (e.type === 'bounced' ? e.operator : e.type)),
      ['delete', 'delete'],
    );
    // Fresh: leased by its enqueue and run at once, so any mark is one set while in flight,
    // which after-attempt.ts reads before a retry is scheduled.
    const fresh = deps({ mx });
    fresh.d.operatorMark = async () => {
      reads++;
      return mark;
    };
    const tried = await processDelivery(job(), fresh.d, { body: Buffer.from('x'), fresh: true });
    assert.equal(reads, 1, 'no mark read');
    assert.equal(tried.kind, 'retry');
    assert.equal(tried.data.attempts, 1);
    assert.equal(fresh.events.filter((e) => e.type === 'attempt').length, 1);
  });
});
