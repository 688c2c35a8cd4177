/**
 * GET /v1/events under a stream of mostly other tenants' events: one request examines at most
 * EVENTS_SCAN_BUDGET entries and says `partial: true` with a `next` to read on from, so a tenant
 * pages through to every one of its events, each once; a cursor Redis could not read after is a
 * 400 naming `query.after`, never a 500 with the cursor in the log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { EVENTS_SCAN_BUDGET } from '../src/routes/events.js';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, tenantKey } from './helpers.js';

/** Other tenants' events: more than two budgets' worth. */
const BUSY = 2 * EVENTS_SCAN_BUDGET + 2_500;
/** One of the tenant's own events every RARE_EVERY entries. */
const RARE_EVERY = 3_000;

let stack: ApiStack;
let shopKey: string;
let ownIds: string[];
before(async () => {
  stack = await startApi({ tenants: { shop: {}, busy: {} } });
  shopKey = await tenantKey(stack, 'shop');
  const [key] = eventStreamKeys(PREFIX, stack.herald.shards.layout);
  const batch = stack.redis.client().pipeline();
  ownIds = [];
  for (let n = 0; n < BUSY; n++) {
    const tenant = n % RARE_EVERY === RARE_EVERY - 1 ? 'shop' : 'busy';
    if (tenant === 'shop') ownIds.push(`m${n}`);
    batch.xadd(
      key!,
      '*',
      'event',
      JSON.stringify({ type: 'delivered', tenant, messageId: `m${n}`, time: n }),
    );
  }
  await batch.exec();
});
after(() => stack.stop());

describe('the scan budget', () => {
  test("a tenant pages through others' events to each of its own once, each answer partial until the end", async () => {
    const seen: string[] = [];
    let after = '0';
    let partials = 0;
    for (let reads = 0; reads < 20; reads++) {
      const answer = await stack.call('GET', `/v1/events?after=${after}&limit=1000`, { key: shopKey });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      seen.push(...answer.body.events.map((e: { event: { messageId: string } }) => e.event.messageId));
      after = answer.body.next;
      if (!answer.body.partial) break;
      partials++;
    }
    assert.deepEqual(seen, ownIds);
    assert.equal(partials, Math.ceil(BUSY / EVENTS_SCAN_BUDGET) - 1, 'one partial answer per budget');
  });

  test('without a cursor: the newest matches among the last budget of entries, not partial', async () => {
    const answer = await stack.call('GET', '/v1/events?limit=1000', { key: shopKey });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.partial, false);
    const window = ownIds.filter((id) => Number(id.slice(1)) >= BUSY - EVENTS_SCAN_BUDGET);
    assert.deepEqual(
      answer.body.events.map((e: { event: { messageId: string } }) => e.event.messageId),
      window,
    );
  });
});

describe('cursors Redis cannot read after', () => {
  for (const [after, problem] of [
    ['99999999999999999999-0', /over 18446744073709551615/],
    ['0-0,0-0,0-0', /3 stream ids for 1 stream/],
    ['18446744073709551615-18446744073709551615', /nothing comes after/],
    [`${'1-0,'.repeat(3_000)}1-0`, /longer than|too big|<=/i],
  ] as const)
    test(`after=${after.slice(0, 40)}: 400 naming query.after`, async () => {
      const logged = stack.logs.length;
      const answer = await stack.call('GET', `/v1/events?after=${after}`, { key: ADMIN_KEY });
      assert.equal(answer.status, 400, JSON.stringify(answer.body).slice(0, 300));
      assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
      assert.match(JSON.stringify(answer.body.error), /query\.after/);
      assert.match(JSON.stringify(answer.body.error), problem);
      const errors = stack.logs.slice(logged).filter((line) => JSON.parse(line).level >= 50);
      assert.deepEqual(errors, [], 'no error logged');
    });
});
