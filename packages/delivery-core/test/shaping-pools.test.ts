import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../src/config/index.js';
import {
  nextUtcDay,
  parseShaping,
  pickSource,
  selectPool,
  utcDayName,
  warmupCap,
} from '../src/shaping/index.js';

const DAY_MS = 86_400_000;
const NOV_26 = Date.UTC(2026, 10, 26, 15, 30);

const FILE = {
  pools: {
    shared: { sources: [{ ip: '192.0.2.1' }, { ip: '192.0.2.2', weight: 3 }] },
    bulk: {
      max_connections: 5,
      sources: [{ ip: '192.0.2.10', warmup_from: '2026-11-25' }, { ip: '192.0.2.11' }],
      warmup: {
        schedule: [
          { day: 1, daily_cap: 50 },
          { day: 2, daily_cap: 100 },
          { day: 5, daily_cap: 1000 },
        ],
      },
    },
  },
  pool_selection: [
    { tenant: 'Acme', stream: 'bulk', pool: 'bulk' },
    { stream: 'bulk', pool: 'shared' },
    { tenant: 'globex', pool: 'bulk' },
  ],
  tenants: { acme: { max_message_rate: '100/s', campaign_max_message_rate: '10/s' } },
};

function errorOf(input: unknown): ConfigError {
  try {
    parseShaping(input, { source: 'shaping.yaml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('shaping pools, pool selection and tenants', () => {
  const shaping = parseShaping(FILE);

  test('parses warm-up days to UTC midnights, names lower-cased, tenant rates', () => {
    assert.equal(shaping.pools.bulk!.sources[0]!.warmup_from, Date.UTC(2026, 10, 25));
    assert.equal(shaping.pool_selection[0]!.tenant, 'acme');
    assert.deepEqual(shaping.tenants.acme!.max_message_rate, { count: 100, periodMs: 1000 });
  });

  test('selectPool: first matching rule; unmarked mail is the transactional stream', () => {
    assert.equal(selectPool(shaping, { tenant: 'acme', stream: 'bulk' })?.name, 'bulk');
    assert.equal(selectPool(shaping, { tenant: 'initech', stream: 'BULK' })?.name, 'shared');
    assert.equal(selectPool(shaping, { tenant: 'globex' })?.name, 'bulk');
    assert.equal(selectPool(shaping, { tenant: 'acme' }), undefined);
    assert.equal(selectPool(parseShaping({}), { tenant: 'acme', stream: 'bulk' }), undefined);
  });

  test('warmupCap: the step in force on the IP day, none for seasoned IPs or after the schedule', () => {
    const pool = shaping.pools.bulk!;
    const [warming, seasoned] = pool.sources;
    assert.equal(warmupCap(pool, warming!, Date.UTC(2026, 10, 24, 12)), 50, 'before day 1: first step');
    assert.equal(warmupCap(pool, warming!, Date.UTC(2026, 10, 25, 0)), 50, 'day 1');
    assert.equal(warmupCap(pool, warming!, NOV_26), 100, 'day 2');
    assert.equal(warmupCap(pool, warming!, NOV_26 + 2 * DAY_MS), 100, 'day 4 keeps day 2 step');
    assert.equal(warmupCap(pool, warming!, NOV_26 + 3 * DAY_MS), 1000, 'day 5');
    assert.equal(warmupCap(pool, warming!, NOV_26 + 4 * DAY_MS), undefined, 'day 6: seasoned');
    assert.equal(warmupCap(pool, seasoned!, NOV_26), undefined);
  });

  test('UTC day helpers', () => {
    assert.equal(utcDayName(NOV_26), '2026-11-26');
    assert.equal(nextUtcDay(NOV_26), Date.UTC(2026, 10, 27));
  });

  test('pickSource: keeps the preferred IP, else weighted random', () => {
    const sources = shaping.pools.shared!.sources;
    assert.equal(pickSource(sources, '192.0.2.1', () => 0.99)?.ip, '192.0.2.1');
    assert.equal(pickSource(sources, 'gone', () => 0)?.ip, '192.0.2.1');
    assert.equal(pickSource(sources, undefined, () => 0.24)?.ip, '192.0.2.1', 'weight 1 of 4');
    assert.equal(pickSource(sources, undefined, () => 0.26)?.ip, '192.0.2.2', 'weight 3 of 4');
    assert.equal(pickSource([], undefined), undefined);
    let second = 0;
    let state = 7;
    const random = () => {
      state = (state * 48_271) % 2_147_483_647;
      return state / 2_147_483_647;
    };
    for (let i = 0; i < 4000; i++) if (pickSource(sources, undefined, random)?.ip === '192.0.2.2') second++;
    assert.ok(second > 2800 && second < 3200, `weight 3 of 4 picked ${second} of 4000`);
  });

  test('errors name the exact key path', () => {
    let err = errorOf({ pool_selection: [{ stream: 'bulk', pool: 'nope' }] });
    assert.match(err.message, /pool_selection\[0\]\.pool.*no pool named nope/);
    err = errorOf({
      pools: { p: { sources: [{ ip: '192.0.2.1', warmup_from: '2026-11-25' }] } },
    });
    assert.match(err.message, /pools\.p\.sources\[0\]\.warmup_from.*needs a warmup schedule/);
    err = errorOf({
      pools: {
        p: {
          sources: [{ ip: '192.0.2.1', warmup_from: '2026-02-30' }],
          warmup: { schedule: [{ day: 1, daily_cap: 5 }] },
        },
      },
    });
    assert.match(err.message, /pools\.p\.sources\[0\]\.warmup_from.*expected a day like/);
    err = errorOf({ pools: { p: { sources: [{ ip: '192.0.2.1' }, { ip: '192.0.2.1' }] } } });
    assert.match(err.message, /pools\.p\.sources\[1\]\.ip.*listed twice/);
    err = errorOf({ tenants: { acme: { max_mesage_rate: '1/s' } } });
    assert.match(err.message, /tenants\.acme.*max_mesage_rate/);
  });
});
