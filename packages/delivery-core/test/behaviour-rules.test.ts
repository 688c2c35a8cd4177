/**
 * The behaviour rules (behaviour/rules.ts) on fake counters: a new account's burst trips only on
 * the cap, a known account trips on factor × its own rate, domain spread over its maximum, bounce
 * and complaint rates only once the window holds the minimum volume and events (defaults: hundreds of
 * recipients, 10 hard bounces / 5 complaints); a per-account entry replaces
 * the rules whole. And the config section's errors name the exact key path. A window of W minutes
 * reads the W whole minutes before the current one too: against a private redis-server with an
 * injected clock, a burst counted at hh:mm:59.93 (after that minute's last pass) is judged at the
 * next minute's first pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import {
  bucketsNeeded,
  createBehaviour,
  judge,
  MINUTE_BUCKET_MS,
  queueBehaviourCounts,
  type RawFigures,
} from '@herald/delivery-core/behaviour';
import { behaviourRulesFor } from '@herald/delivery-core/config';
import { type RedisHandle, startRedis } from '@herald/test-harness';

const MINUTES = 60;
const HOURS = 24;

function figures(opts: {
  perMinute?: number[];
  hourly?: number[];
  hard?: number[];
  complaints?: number[];
  domains?: number;
}): RawFigures {
  const pad = (values: number[] = [], n: number) => [
    ...values,
    ...new Array(Math.max(0, n - values.length)).fill(0),
  ];
  return {
    recipients: pad(opts.perMinute, MINUTES),
    hard: pad(opts.hard, MINUTES),
    complaints: pad(opts.complaints, MINUTES),
    hourly: pad(opts.hourly, HOURS),
    domains: opts.domains ?? 0,
    spreadMinutes: 10,
  };
}

const rulesOf = (behaviour: Record<string, unknown>, account = 'someone') =>
  behaviourRulesFor(parseConfig({ behaviour }).behaviour!, account);

describe('behaviour rules', () => {
  const volume = rulesOf({
    rules: { volume_spike: { window: '5m', baseline: '24h', factor: 10, min_count: 100, max_count: 5000 } },
  });

  it("a new account's first burst is no spike unless it reaches the cap", () => {
    const burst = figures({ perMinute: [400, 400], hourly: [800] });
    assert.equal(judge(volume, burst), undefined);
    const cap = judge(volume, figures({ perMinute: [3000, 2000], hourly: [5000] }));
    assert.equal(cap?.rule, 'volume_spike');
    assert.match(cap!.reason, /5000 recipients in 5m: at or over the cap of 5000/);
  });

  it('an account with a baseline trips on more than factor × its usual rate per window', () => {
    // 24 h at 1440 recipients a day: 5 per 5 minutes usual; 10× is 50, the minimum count is 100.
    const usual = [60, ...new Array(23).fill(60)];
    assert.equal(judge(volume, figures({ perMinute: [99], hourly: usual })), undefined, 'under min_count');
    const spike = judge(volume, figures({ perMinute: [60, 60], hourly: [120 + 60, ...usual.slice(1)] }));
    assert.equal(spike?.rule, 'volume_spike');
    // The usual rate is scaled to the span read: 5 minutes and the current one, 6 minutes.
    assert.deepEqual(spike?.figures, { recipients: 120, baseline: 1440, expected: 6.03 });
    const steady = judge(volume, figures({ perMinute: [20, 20], hourly: [40 * 100, ...usual.slice(1)] }));
    assert.equal(steady, undefined, 'a busy account at its own pace is no spike');
  });

  it('domain spread over its maximum trips; at it does not', () => {
    const rules = rulesOf({ rules: { domain_spread: { window: '10m', max_domains: 200 } } });
    assert.equal(judge(rules, figures({ domains: 200 })), undefined);
    assert.equal(judge(rules, figures({ domains: 201 }))?.rule, 'domain_spread');
  });

  it('bounce and complaint spikes are judged only with the minimum recipients in the window', () => {
    const rules = rulesOf({
      rules: {
        bounce_spike: { window: '10m', rate: 0.1, min_recipients: 50, min_events: 1 },
        complaint_spike: { window: '10m', rate: 0.01, min_recipients: 50, min_events: 1 },
      },
    });
    assert.equal(judge(rules, figures({ perMinute: [49], hard: [49] })), undefined, 'too few recipients');
    const bounce = judge(rules, figures({ perMinute: [100], hard: [11] }));
    assert.equal(bounce?.rule, 'bounce_spike');
    assert.match(bounce!.reason, /hard bounce rate 11\.00 % over 10\.00 % \(11 of 100 recipients in 10m\)/);
    assert.equal(judge(rules, figures({ perMinute: [100], hard: [10] })), undefined, 'at the rate: no spike');
    // Outside the 10-minute window (10 whole minutes before the current one): not counted.
    assert.equal(
      judge(rules, figures({ perMinute: [100], hard: [...new Array(11).fill(0), 50] })),
      undefined,
    );
    assert.equal(judge(rules, figures({ perMinute: [100], complaints: [2] }))?.rule, 'complaint_spike');
  });

  it('the default rate rules need hundreds of recipients and more than a handful of events', () => {
    const rules = rulesOf({ rules: { bounce_spike: {}, complaint_spike: {} } });
    assert.deepEqual(
      { ...rules.bounce_spike },
      { window: 3_600_000, rate: 0.1, min_recipients: 200, min_events: 10 },
    );
    assert.deepEqual(
      { ...rules.complaint_spike },
      { window: 3_600_000, rate: 0.01, min_recipients: 500, min_events: 5 },
    );
    // The attack: one complaint from any recipient of 60 (1.67 %) freezes nobody; nor 4 of 60.
    assert.equal(judge(rules, figures({ perMinute: [60], complaints: [1] })), undefined);
    assert.equal(judge(rules, figures({ perMinute: [60], complaints: [4] })), undefined);
    // Nor 4 complaints over a large volume, nor 9 hard bounces of 20 recipients.
    assert.equal(
      judge(rules, figures({ perMinute: [5000], complaints: [4] })),
      undefined,
      'under min_events',
    );
    assert.equal(judge(rules, figures({ perMinute: [20], hard: [9] })), undefined, 'under both minimums');
    assert.equal(
      judge(rules, figures({ perMinute: [499], complaints: [100] })),
      undefined,
      'under min_recipients',
    );
    // Over the rate, the volume and the event count: trips.
    assert.equal(judge(rules, figures({ perMinute: [500], complaints: [6] }))?.rule, 'complaint_spike');
    assert.equal(judge(rules, figures({ perMinute: [200], hard: [21] }))?.rule, 'bounce_spike');
    const few = rulesOf({ rules: { bounce_spike: { min_recipients: 1, min_events: 3 } } });
    assert.equal(judge(few, figures({ perMinute: [4], hard: [2] })), undefined, 'min_events alone holds it');
    assert.equal(judge(few, figures({ perMinute: [4], hard: [3] }))?.rule, 'bounce_spike');
  });

  it("an account's entry replaces the rules whole; names compare case-insensitively", () => {
    const behaviour = {
      rules: { domain_spread: { max_domains: 5 } },
      accounts: { Bulk: { volume_spike: { max_count: 100_000 } } },
    };
    assert.equal(judge(rulesOf(behaviour, 'bulk'), figures({ domains: 50 })), undefined);
    assert.equal(judge(rulesOf(behaviour, 'other'), figures({ domains: 50 }))?.rule, 'domain_spread');
  });

  it('config errors name the exact key path', () => {
    assert.throws(
      () => parseConfig({ behaviour: { rules: { volume_spike: { window: '2h' } } } }),
      /behaviour\.rules\.volume_spike\.window: expected a duration between 1m and 1h/,
    );
    assert.throws(
      () => parseConfig({ behaviour: { rules: { bounce_spike: { rate: 2 } } } }),
      /behaviour\.rules\.bounce_spike\.rate: expected a number between 0 and 1/,
    );
    assert.throws(() => parseConfig({ behaviour: { rules: { burst: {} } } }), /behaviour\.rules.*burst/);
  });
});

describe('short windows and the minute boundary', () => {
  const oneMinute = rulesOf({ rules: { volume_spike: { window: '1m', min_count: 1, max_count: 5 } } });

  it('a W-minute window reads W + 1 minute buckets: the previous whole minute is judged too', () => {
    assert.equal(bucketsNeeded(oneMinute).minutes, 2);
    assert.equal(bucketsNeeded(rulesOf({ rules: { domain_spread: { window: '10m' } } })).spreadMinutes, 11);
    // 40 recipients in the minute before the current one, none yet in this one: trips.
    assert.equal(judge(oneMinute, figures({ perMinute: [0, 40] }))?.rule, 'volume_spike');
    assert.equal(judge(oneMinute, figures({ perMinute: [0, 0, 40] })), undefined, 'two minutes back: out');
  });

  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  it('a burst counted after its minute’s last pass is judged at the first pass of the next minute', async () => {
    const minute = 29_000_000 * MINUTE_BUCKET_MS;
    let clock = minute + 59_930; // hh:mm:59.930
    const behaviour = createBehaviour({
      redis: redis.client(),
      prefix: 'edge',
      behaviour: parseConfig({ behaviour: { rules: oneMinute } }).behaviour!,
      events: { emit: () => {}, flush: async () => {} },
      now: () => clock,
    });
    const recipients = Array.from({ length: 40 }, (_, i) => `r${i}@example.test`);
    const multi = redis.client().multi();
    queueBehaviourCounts(
      multi,
      'edge',
      0,
      [{ id: 'm1', recipients, behaviour: { account: 'burst', attributeMs: 0 } }],
      clock,
    );
    await multi.exec();
    clock = minute + MINUTE_BUCKET_MS + 500; // the next minute's first pass
    const flag = await behaviour.evaluate('burst', 'acme');
    assert.equal(flag?.rule, 'volume_spike', 'the previous minute is still in the window');
    assert.equal(flag?.figures.recipients, 40);
  });
});
