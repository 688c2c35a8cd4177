/**
 * A message's story derived from its trace's events (pure): states, replies, attempts, feedback,
 * and why a recipient not finished waits, from its job's view.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core/events';
import { type JobView, storyFromEvents, waitingFor } from '@herald/delivery-core/story';

const ID = 'mstory0001';
const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);

const accepted: HeraldEvent = {
  type: 'accepted',
  time: T0,
  messageId: ID,
  tenant: 'acme',
  from: 'news@acme.example',
  recipients: ['ok@a.example', 'No@A.example', 'later@b.example', 'never@c.example'],
  size: 1234,
  jobs: 3,
  source: 'smtp',
  client: '127.0.0.1',
  stream: 'bulk',
};

const reply = (code: number, enhanced: string, text: string) => ({
  code,
  enhanced,
  text,
  stage: 'rcpt' as const,
  host: 'mx.a.example',
});

const attemptA: HeraldEvent = {
  type: 'attempt',
  time: T0 + 1_000,
  messageId: ID,
  tenant: 'acme',
  domain: 'a.example',
  attempt: 1,
  host: { hostname: 'mx.a.example', address: '127.0.0.5', port: 25, tls: true, tlsVersion: 'TLSv1.3' },
  hostErrors: [],
  results: [
    { address: 'ok@a.example', accepted: true, reply: reply(250, '2.0.0', 'ok') },
    { address: 'No@A.example', accepted: false, reply: reply(550, '5.1.1', 'no such user') },
  ],
  durationMs: 42,
};

const attemptB: HeraldEvent = {
  type: 'attempt',
  time: T0 + 1_100,
  messageId: ID,
  tenant: 'acme',
  domain: 'b.example',
  attempt: 1,
  host: { hostname: 'mx.b.example', address: '127.0.0.6', port: 25, tls: false },
  hostErrors: [],
  results: [{ address: 'later@b.example', accepted: false, reply: reply(451, '4.7.1', 'greylisted') }],
  durationMs: 17,
};

const outcome = (
  type: 'delivered' | 'bounced' | 'deferred' | 'expired',
  recipient: string,
  r: ReturnType<typeof reply>,
  time: number,
  extra: object = {},
): HeraldEvent => ({
  type,
  time,
  messageId: ID,
  tenant: 'acme',
  domain: recipient.split('@')[1]!.toLowerCase(),
  recipient,
  attempt: 1,
  reply: r,
  latencyMs: time - T0,
  ...extra,
});

const trace: HeraldEvent[] = [
  accepted,
  attemptA,
  outcome('delivered', 'ok@a.example', reply(250, '2.0.0', 'ok'), T0 + 1_001),
  outcome('bounced', 'No@A.example', reply(550, '5.1.1', 'no such user'), T0 + 1_002),
  attemptB,
  outcome('deferred', 'later@b.example', reply(451, '4.7.1', 'greylisted'), T0 + 1_101, {
    nextAttemptAt: T0 + 3_600_000,
    retryClass: 'greylisted',
  }),
  {
    type: 'bounce_received',
    time: T0 + 9_000,
    tenant: 'acme',
    messageId: ID,
    recipient: 'ok@a.example',
    reason: 'userunknown',
    hard: true,
    status: '5.1.1',
    action: 'suppress',
    suppressed: true,
    verified: true,
  },
  // Another message's event in the list is ignored.
  outcome('bounced', 'ok@a.example', reply(550, '5.1.1', 'x'), T0 + 9_500, { messageId: 'other' }),
];

describe('storyFromEvents', () => {
  it('gives the envelope from the accepted event and each recipient its state and last reply', () => {
    const story = storyFromEvents(ID, trace, false)!;
    assert.equal(story.id, ID);
    assert.equal(story.tenant, 'acme');
    assert.equal(story.from, 'news@acme.example');
    assert.equal(story.acceptedAt, T0);
    assert.equal(story.size, 1234);
    assert.equal(story.stream, 'bulk');
    assert.equal(story.source, 'smtp');
    assert.equal(story.truncated, false);
    assert.deepEqual(
      story.recipients.map((r) => [r.address, r.domain, r.state, r.attempts, r.reply?.code, r.at]),
      [
        ['ok@a.example', 'a.example', 'delivered', 1, 250, T0 + 1_001],
        ['No@A.example', 'a.example', 'bounced', 1, 550, T0 + 1_002],
        ['later@b.example', 'b.example', 'deferred', 1, 451, T0 + 1_101],
        ['never@c.example', 'c.example', 'queued', 0, undefined, undefined],
      ],
    );
    const later = story.recipients[2]!;
    assert.equal(later.nextAttemptAt, T0 + 3_600_000);
    assert.equal(later.retryClass, 'greylisted');
    assert.equal(later.waiting, undefined, 'no job view given: no waiting');
    assert.deepEqual(
      story.attempts.map((a) => [a.domain, a.attempt, a.host?.hostname, a.host?.address, a.host?.tls]),
      [
        ['a.example', 1, 'mx.a.example', '127.0.0.5', true],
        ['b.example', 1, 'mx.b.example', '127.0.0.6', false],
      ],
    );
    assert.equal(story.feedback.length, 1);
    assert.equal(story.feedback[0]!.type, 'bounce_received');
    assert.equal(story.feedback[0]!.recipient, 'ok@a.example');
  });

  it('is undefined without the accepted event', () => {
    assert.equal(storyFromEvents(ID, trace.slice(1), true), undefined);
    assert.equal(storyFromEvents('nope', trace, false), undefined);
  });

  it('keeps a terminal state even when a later deferral appears, and a deferral then delivery ends delivered', () => {
    const story = storyFromEvents(
      ID,
      [
        accepted,
        outcome('deferred', 'later@b.example', reply(451, '4.7.1', 'greylisted'), T0 + 1, {
          nextAttemptAt: T0 + 60_000,
          retryClass: 'greylisted',
        }),
        outcome('delivered', 'later@b.example', reply(250, '2.0.0', 'ok'), T0 + 60_500),
        outcome('deferred', 'later@b.example', reply(451, '4.3.0', 'late'), T0 + 70_000),
      ],
      false,
    )!;
    const later = story.recipients.find((r) => r.address === 'later@b.example')!;
    assert.equal(later.state, 'delivered');
    assert.equal(later.reply?.code, 250);
    assert.equal(later.nextAttemptAt, undefined);
  });

  it('gives recipients not finished the waiting their job view says', () => {
    const jobs = new Map<string, JobView>([
      ['later@b.example', { state: 'delayed' }],
      ['never@c.example', { state: 'waiting' }],
    ]);
    const story = storyFromEvents(ID, trace, true, jobs)!;
    assert.equal(story.truncated, true);
    assert.deepEqual(story.recipients[2]!.waiting, {
      reason: 'retry backoff (greylisted)',
      until: T0 + 3_600_000,
    });
    assert.deepEqual(story.recipients[3]!.waiting, { reason: 'ready' });
    assert.equal(story.recipients[0]!.waiting, undefined, 'terminal: no waiting');
  });
});

describe('waitingFor', () => {
  const deferred = {
    address: 'later@b.example',
    domain: 'b.example',
    state: 'deferred' as const,
    attempts: 1,
    nextAttemptAt: T0 + 600_000,
    retryClass: 'throttled',
  };
  const queued = { address: 'q@b.example', domain: 'b.example', state: 'queued' as const, attempts: 0 };
  const cases: [string, Parameters<typeof waitingFor>[0], JobView, ReturnType<typeof waitingFor>][] = [
    ['a job a worker holds is in flight', deferred, { state: 'active' }, { reason: 'in flight' }],
    ['a waiting job is ready', queued, { state: 'waiting' }, { reason: 'ready' }],
    ['a prioritized job is ready', queued, { state: 'prioritized' }, { reason: 'ready' }],
    [
      'a delayed job after a deferral backs off until the next attempt',
      deferred,
      { state: 'delayed' },
      { reason: 'retry backoff (throttled)', until: T0 + 600_000 },
    ],
    [
      'a job held by a suspension names the site and its live end',
      queued,
      {
        state: 'delayed',
        site: 'provider:gmail',
        held: { reason: 'site provider:gmail suspended', until: T0 + 5, parkOn: 'suspended:provider:gmail' },
        siteSuspendedUntil: T0 + 900_000,
      },
      { reason: 'site provider:gmail suspended', until: T0 + 900_000 },
    ],
    [
      'a job backing off at a site suspended now says the suspension',
      deferred,
      { state: 'delayed', site: 'mx:mx.b.example', siteSuspendedUntil: T0 + 700_000 },
      { reason: 'site mx:mx.b.example suspended', until: T0 + 700_000 },
    ],
    [
      'a bulk job of a paused tenant',
      queued,
      {
        state: 'delayed',
        held: { reason: 'tenant acme paused', until: T0 + 60_000, parkOn: 'tenant:acme' },
      },
      { reason: 'tenant acme paused' },
    ],
    [
      'a job parked for a connection slot of its lane',
      queued,
      {
        state: 'delayed',
        site: 'mx:mx.b.example',
        held: {
          reason: 'mx:mx.b.example has 2 attempts in flight',
          until: T0 + 30_000,
          parkOn: 'mx:mx.b.example',
        },
      },
      { reason: 'waiting for a connection slot (mx:mx.b.example)', until: T0 + 30_000 },
    ],
    [
      'a job waiting for a rate slot',
      queued,
      { state: 'delayed', held: { reason: 'max_message_rate site:mx:mx.b.example', until: T0 + 1_500 } },
      { reason: 'rate limit (site:mx:mx.b.example)', until: T0 + 1_500 },
    ],
    ['a job gone says nothing', deferred, { state: 'missing' }, undefined],
  ];
  for (const [name, recipient, job, expected] of cases)
    it(name, () => assert.deepEqual(waitingFor(recipient, job, 'acme'), expected));
});
