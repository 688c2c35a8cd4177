/**
 * End to end: a hostile destination. A sink answers a seeded random mix of 421/450/452/550/554 at
 * RCPT, DATA and the final dot, drops connections (at every stage, mid-body and after the dot),
 * stalls past every deadline, drips replies byte by byte, and misbehaves at the greeting, EHLO,
 * RSET and QUIT. With short deadlines, a short retry schedule and a short queue lifetime the run
 * ends by itself; then the audit: every recipient reaches exactly one terminal state within the
 * lifetime plus a margin, and it is the one the sink's ground truth (what it actually wrote) says
 * it must be; nothing is left holding a job, a connection lease or a connection. A second case: a
 * destination that always answers 421 to the final dot and closes, with max_connections 2.
 *
 * When a run does not finish, the failure lists the recipients that never ended, with their job's
 * state, their last event, the sink's verdicts and the connections the sink still holds. With
 * HERALD_CHAOS_DUMP=<file>, a run whose outcomes do not match writes every event and every sink
 * transcript there.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  createChaos,
  DROP,
  drip,
  replyAndClose,
  replyWith,
  type SinkStage,
  STALL_FOREVER,
  type StageRule,
  stallFor,
  type WeightedBehaviour,
} from '@herald/test-harness';
import {
  auditOutcomes,
  bounded,
  connectionLeases,
  describeStuck,
  describeTruth,
  OUTCOMES,
  openConnections,
  retryDelays,
  waitForTerminals,
} from './lib/chaos-audit.js';
import { type Defer, deferrer } from './lib/cleanup.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const CHAOS_SEED = 20_251_202;
const MESSAGES = 100;
const RECIPIENTS_PER_MESSAGE = 3;
/**
 * Destination domains, all on the one chaos sink: each is its own site, so its own lane and
 * concurrency window (a lane this hostile shrinks to one connection), and the run makes enough
 * attempts within the lifetime.
 */
const DOMAINS = ['chaos-a.test', 'chaos-b.test', 'chaos-c.test', 'chaos-d.test', 'chaos-e.test'];
/** Every Nth recipient is refused 450 at every RCPT (it can only expire); the one after it, 550. */
const SCRIPTED_EVERY = 20;
/** Deadlines Herald is configured with; the chaos stalls are far shorter or far longer. */
const DEADLINE = '3s';
const CONNECT_DEADLINE = '2s';
const LONG_STALL_MS = 25_000;
const SHORT_STALL_MS = 300;
const FAST_DRIP_MS = 5;
const SLOW_DRIP_MS = 1_000;
const RETRY = '2s';
const LIFETIME_MS = 30_000;
/** After the lifetime: the last attempt (several deadlines at most) and the expiry itself. */
const END_MARGIN_MS = 30_000;
/** Pooled idle connections close after idle_timeout; QUIT may stall: Herald then cuts it. */
const RELEASE_WITHIN_MS = 15_000;
/** Accepted twice can only come from a client giving up in the very moment a 2xx was written. */
const MAX_DUPLICATES = 3;
/** A relay with hung attempts takes up to ~35 s to stop (its workers' grace); the timeouts cover it. */
const CHAOS_TEST_TIMEOUT_MS = 180_000;

const VERP = {
  listen: '127.0.0.1:0',
  domain: 'bounces.herald.test',
  verp_secret: 'chaos-test-secret-0123456789',
};
const GMAIL_421 = replyAndClose(421, '4.7.0', 'Try again later, closing connection');
const ALWAYS_DEFERRED = replyWith(450, '4.7.1', 'greylisted, come back later');
const ALWAYS_REFUSED = replyWith(550, '5.1.1', 'No such user here');

const normal = (weight: number): WeightedBehaviour => ({ weight });
const w = (weight: number, behaviour: WeightedBehaviour['behaviour']): WeightedBehaviour => ({
  weight,
  behaviour,
});

/** Per stage: weights of the normal reply and of each misbehaviour (5xx only where it names recipients). */
const CHAOS_WEIGHTS: Partial<Record<SinkStage, WeightedBehaviour[]>> = {
  greeting: [
    normal(88),
    w(4, replyAndClose(421, '4.7.0', 'Too many connections, try again later')),
    w(2, DROP),
    w(2, stallFor(LONG_STALL_MS)),
    w(2, stallFor(SHORT_STALL_MS)),
    w(2, drip(FAST_DRIP_MS)),
  ],
  ehlo: [normal(94), w(2, GMAIL_421), w(1, DROP), w(1, stallFor(LONG_STALL_MS)), w(2, drip(FAST_DRIP_MS))],
  mail: [
    normal(92),
    w(4, replyWith(451, '4.3.0', 'Temporary local problem')),
    w(2, GMAIL_421),
    w(1, DROP),
    w(1, stallFor(LONG_STALL_MS)),
  ],
  rcpt: [
    normal(76),
    w(6, replyWith(450, '4.2.0', 'Mailbox busy')),
    w(3, replyWith(452, '4.2.2', 'Mailbox full')),
    w(4, replyWith(550, '5.1.1', 'No such user')),
    w(4, GMAIL_421),
    w(2, DROP),
    w(2, stallFor(LONG_STALL_MS)),
    w(2, stallFor(SHORT_STALL_MS)),
    w(1, drip(FAST_DRIP_MS)),
  ],
  data: [
    normal(94),
    w(2, replyWith(451, '4.3.0', 'Not now')),
    w(1, replyWith(554, '5.7.1', 'Rejected by policy')),
    w(1, GMAIL_421),
    w(1, DROP),
    w(1, stallFor(LONG_STALL_MS)),
  ],
  body: [normal(97), w(3, DROP)],
  dataEnd: [
    normal(62),
    w(5, replyWith(451, '4.3.0', 'Temporary failure')),
    w(3, replyWith(450, '4.7.0', 'Try later')),
    w(4, replyWith(554, '5.6.0', 'Message content rejected')),
    w(8, GMAIL_421),
    w(5, DROP),
    w(4, stallFor(LONG_STALL_MS)),
    w(3, stallFor(SHORT_STALL_MS)),
    w(3, drip(FAST_DRIP_MS)),
    w(3, drip(SLOW_DRIP_MS)),
  ],
  rset: [normal(92), w(4, GMAIL_421), w(2, DROP), w(2, STALL_FOREVER)],
  quit: [normal(80), w(10, STALL_FOREVER), w(5, DROP), w(5, GMAIL_421)],
};

function chaosConfig(lifetimeMs: number, shapingFile?: string) {
  return {
    bounce: VERP,
    tenants: { default: { dsn: false } },
    delivery: {
      connect_timeout: CONNECT_DEADLINE,
      greeting_timeout: DEADLINE,
      command_timeout: DEADLINE,
      data_timeout: DEADLINE,
      idle_timeout: '1s',
    },
    retry: { schedule: [RETRY], jitter: 0, max_queue_lifetime: `${lifetimeMs}ms` },
    ...(shapingFile ? { shaping: { file: shapingFile } } : {}),
  };
}

async function sendAll(stack: Stack, recipients: readonly string[], perMessage: number): Promise<void> {
  for (let i = 0; i < recipients.length; i += perMessage) {
    const to = recipients.slice(i, i + perMessage);
    const sent = await stack.relay.herald.send({
      from: 'app@origin.test',
      to,
      subject: `chaos ${i}`,
      text: 'x',
    });
    assert.deepEqual(sent.rejected, [], `send to ${to.join(', ')}`);
  }
}

/**
 * The audit's (a) and (c) for a finished or timed-out run: fails with the stuck recipients if any,
 * then checks one terminal event each, an idle queue, no connection lease, no open connection.
 */
async function auditEnd(
  t: { diagnostic(s: string): void },
  stack: Stack,
  recipients: string[],
  waitMs: number,
) {
  const sink = stack.sinks[0]!;
  const stuck = await waitForTerminals(stack.events, recipients, waitMs);
  if (stuck.length > 0) assert.fail(await describeStuck(stack, sink, stuck));
  const events = await stack.assertEveryRecipientTerminatedOnce();
  assert.equal((await stack.relay.herald.queueStats({ maxJobs: 0 })).totals.inFlight, 0, 'no job is active');
  await waitUntil(
    'every connection lease released and every sink connection closed',
    async () =>
      Object.keys(await connectionLeases(stack)).length === 0 && sink.stats().activeConnections === 0,
    { timeoutMs: RELEASE_WITHIN_MS },
  ).catch(async (err: Error) => {
    const leases = JSON.stringify(await connectionLeases(stack));
    assert.fail(`${err.message}\nleases held: ${leases}\n${openConnections(sink).join('\n')}`);
  });
  t.diagnostic(`sink: ${sink.stats().connections} connections, ${sink.stats().transactions} transactions`);
  return events;
}

describe('a hostile destination', () => {
  it(`every recipient ends as the sink's ground truth says (seed ${CHAOS_SEED})`, {
    timeout: CHAOS_TEST_TIMEOUT_MS,
  }, async (t) => {
    const defer: Defer = deferrer(t);
    const chaos = createChaos({ seed: CHAOS_SEED, stages: CHAOS_WEIGHTS });
    const rule: StageRule = (ctx) => {
      if (ctx.stage === 'rcpt' && ctx.address?.startsWith('deferred-')) return ALWAYS_DEFERRED;
      if (ctx.stage === 'rcpt' && ctx.address?.startsWith('refused-')) return ALWAYS_REFUSED;
      return chaos.rule(ctx);
    };
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { stages: rule } }],
      zone: Object.assign({}, ...DOMAINS.map((d) => mxZone(d, [{ preference: 10, address: '127.0.0.2' }]))),
      config: chaosConfig(LIFETIME_MS),
    });
    defer(() => stack.stop());
    const recipients = Array.from({ length: MESSAGES * RECIPIENTS_PER_MESSAGE }, (_, i) => {
      const kind = ['deferred-', 'refused-'][i % SCRIPTED_EVERY] ?? 'r';
      const message = Math.floor(i / RECIPIENTS_PER_MESSAGE);
      return `${kind}${i}@${DOMAINS[message % DOMAINS.length]}`;
    });
    const start = Date.now();
    await sendAll(stack, recipients, RECIPIENTS_PER_MESSAGE);

    const events = await auditEnd(t, stack, recipients, LIFETIME_MS + END_MARGIN_MS);
    const sink = stack.sinks[0]!;
    const truth = sink.truth();
    const audit = auditOutcomes(recipients, truth, events);
    const counts = (r: Record<string, number>) => OUTCOMES.map((o) => `${r[o] ?? 0} ${o}`).join(' / ');
    t.diagnostic(`expected: ${counts(audit.expected)}`);
    t.diagnostic(`actual:   ${counts(audit.actual)}`);
    t.diagnostic(
      `${audit.attempts} attempts for ${recipients.length} recipients in ${Date.now() - start} ms; ` +
        `${audit.receivedUnacknowledged} recipients' messages received without a written 2xx at least once; ` +
        `${audit.duplicates.length} accepted twice; ${audit.unseen} never reached the sink's RCPT`,
    );
    t.diagnostic(`deferrals: ${retryDelays(events)}`);
    t.diagnostic(`chaos picks: ${JSON.stringify(chaos.picks())}`);
    for (const line of bounded(audit.duplicates)) t.diagnostic(`duplicate: ${line}`);
    if (audit.mismatches.length > 0 && process.env.HERALD_CHAOS_DUMP) {
      // For a rare mismatch: every event and every sink transcript, to find the connection it was on.
      const dump = { mismatches: audit.mismatches, events, transcripts: sink.transcripts() };
      await writeFile(process.env.HERALD_CHAOS_DUMP, JSON.stringify(dump));
      t.diagnostic(`dumped events and transcripts to ${process.env.HERALD_CHAOS_DUMP}`);
    }
    assert.deepEqual(bounded(audit.mismatches), [], 'each terminal state is the one the ground truth says');
    assert.ok(audit.duplicates.length <= MAX_DUPLICATES, `duplicates ≤ ${MAX_DUPLICATES}`);
    for (const outcome of OUTCOMES) {
      assert.ok((audit.expected[outcome] ?? 0) > 0, `the mix produced some ${outcome} recipients`);
    }
  });

  it('a destination that always answers 421 to the final dot and closes: every recipient expires, none hangs', {
    timeout: CHAOS_TEST_TIMEOUT_MS,
  }, async (t) => {
    const defer: Defer = deferrer(t);
    const lifetimeMs = 12_000;
    const shapingFile = await writeShapingFile(
      defer,
      'domains:\n  "always421.test": { max_connections: 2 }\n',
    );
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { stages: { dataEnd: GMAIL_421 } } }],
      zone: mxZone('always421.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: chaosConfig(lifetimeMs, shapingFile),
    });
    defer(() => stack.stop());
    const recipients = Array.from({ length: 20 }, (_, i) => `r${i}@always421.test`);
    await sendAll(stack, recipients, 1);

    const events = await auditEnd(t, stack, recipients, lifetimeMs + END_MARGIN_MS);
    const audit = auditOutcomes(recipients, stack.sinks[0]!.truth(), events);
    t.diagnostic(
      `${audit.attempts} attempts; at most ${stack.sinks[0]!.stats().maxConcurrentConnections} connections at once`,
    );
    assert.deepEqual(bounded(audit.mismatches), []);
    assert.equal(audit.actual.expired, recipients.length, 'every recipient expired');
    const truth = stack.sinks[0]!.truth();
    for (const r of recipients) {
      assert.ok((truth.get(r)?.received ?? 0) >= 1, `${r} reached the sink: ${describeTruth(truth.get(r))}`);
    }
  });
});
