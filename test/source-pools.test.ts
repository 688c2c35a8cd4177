/**
 * End to end: source IP pools. Mail leaves from the pool's addresses (bound on 127.0.0.x, seen by
 * the sink as the client address) with each source's EHLO name; a warming IP sends at most its
 * daily cap per site and the pool's seasoned IP takes the overflow; with no IP left the rest waits
 * for the next day without spending attempts; an automation rule suspends one source IP at a site
 * while the other goes on; a tenant's rate limit holds across sites while another tenant's mail
 * is not held up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeraldEvent, SiteEvent } from '@herald/delivery-core';
import { Spool } from '@herald/delivery-core/queue';
import { nextUtcDay, utcDayName } from '@herald/delivery-core/shaping';
import { deferrer } from './lib/cleanup.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { mxZone, startStack } from './lib/stack.js';
import { sendEach } from './lib/submit.js';

const WARMING_IP = '127.0.0.10';
const SEASONED_IP = '127.0.0.11';
const DAILY_CAP = 5;
/** How long a warm-up test may run: it must not straddle a UTC midnight (the caps are per day). */
const WARMUP_TEST_SPAN_MS = 60_000;

/**
 * The one clock reading a warm-up test computes its days from ("today" in the shaping file, "the
 * next UTC day" in its assertions). Within WARMUP_TEST_SPAN_MS of a UTC midnight it first lets
 * that midnight pass, so the relay counts the whole test on the same day as the reading.
 */
async function testDayClock(): Promise<number> {
  const now = Date.now();
  const left = nextUtcDay(now) - now;
  if (left > WARMUP_TEST_SPAN_MS) return now;
  await sleep(left + 1);
  return Date.now();
}

function poolFile(opts: { seasoned: boolean; automation?: string; now: number }): string {
  const sources = [`{ ip: "${WARMING_IP}", weight: 100, warmup_from: "${utcDayName(opts.now)}" }`];
  if (opts.seasoned) sources.push(`{ ip: "${SEASONED_IP}", weight: 1 }`);
  return `sources:
  "${WARMING_IP}": { ehlo_name: "warm.herald.test" }
  "${SEASONED_IP}": { ehlo_name: "seasoned.herald.test" }
pools:
  outbound:
    sources: [${sources.join(', ')}]
    warmup: { schedule: [{ day: 1, daily_cap: ${DAILY_CAP} }, { day: 2, daily_cap: 50 }] }
pool_selection:
  - { pool: outbound }
${opts.automation ?? ''}`;
}

describe('source IP pools', () => {
  it("binds the pool's IPs with their EHLO names; a warming IP stops at its daily cap and the seasoned IP takes the rest", {
    timeout: 2 * WARMUP_TEST_SPAN_MS,
  }, async (t) => {
    const defer = deferrer(t);
    const now = await testDayClock();
    const shapingFile = await writeShapingFile(defer, poolFile({ seasoned: true, now }));
    const stack = await startStack({
      zone: mxZone('pool.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: { shaping: { file: shapingFile } },
    });
    defer(() => stack.stop());
    const total = 20;
    await sendEach(
      stack.relay.herald,
      Array.from({ length: total }, (_, i) => `r${i}@pool.test`),
    );
    const sink = stack.sinks[0]!;
    await sink.waitForMessages(total, 20_000);
    const bySource = new Map<string, string[]>();
    for (const m of sink.messages)
      bySource.set(m.clientAddress, [...(bySource.get(m.clientAddress) ?? []), m.clientHello]);
    assert.equal(bySource.get(WARMING_IP)?.length, DAILY_CAP, 'the warming IP sent exactly its daily cap');
    assert.equal(bySource.get(SEASONED_IP)?.length, total - DAILY_CAP, 'the seasoned IP took the overflow');
    assert.deepEqual(new Set(bySource.get(WARMING_IP)), new Set(['warm.herald.test']));
    assert.deepEqual(new Set(bySource.get(SEASONED_IP)), new Set(['seasoned.herald.test']));
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const attempts = events.flatMap((e) => (e.type === 'delivered' ? [e.attempt] : []));
    assert.deepEqual(new Set(attempts), new Set([1]), 'choosing a source is never an attempt');
  });

  it('with only a warming IP, mail over the cap waits for the next UTC day without spending attempts', {
    timeout: 2 * WARMUP_TEST_SPAN_MS,
  }, async (t) => {
    const defer = deferrer(t);
    const now = await testDayClock();
    const shapingFile = await writeShapingFile(defer, poolFile({ seasoned: false, now }));
    const stack = await startStack({
      zone: mxZone('pool.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: { shaping: { file: shapingFile } },
    });
    defer(() => stack.stop());
    const total = 8;
    await sendEach(
      stack.relay.herald,
      Array.from({ length: total }, (_, i) => `r${i}@pool.test`),
    );
    const sink = stack.sinks[0]!;
    await sink.waitForMessages(DAILY_CAP, 20_000);
    const spool = new Spool(stack.redis.client(), stack.relay.herald.config.redis.prefix, {
      shards: stack.relay.herald.shards,
    });
    defer(() => spool.close());
    // Every shard's delayed set (HERALD_TEST_SHARDS runs this on several).
    const delayedJobs = async () =>
      (await Promise.all(spool.allQueues().map((queue) => queue.getDelayed()))).flat();
    const deadline = Date.now() + 15_000;
    let delayed = await delayedJobs();
    while (delayed.length !== total - DAILY_CAP && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      delayed = await delayedJobs();
    }
    assert.equal(delayed.length, total - DAILY_CAP, 'the rest waits in the delayed set');
    const tomorrow = nextUtcDay(now);
    for (const job of delayed) {
      assert.equal(job.data.attempts, 0, 'a warm-up wait is not an attempt');
      assert.ok(job.timestamp + job.delay >= tomorrow - 1_000, 'due at the next UTC day');
    }
    assert.equal(sink.messages.length, DAILY_CAP, 'nothing beyond the cap reached the sink');
    assert.ok(sink.messages.every((m) => m.clientAddress === WARMING_IP));
  });

  it('an automation rule suspends one source IP at the site; the other IP delivers everything', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const automation =
      'automation:\n  - { match: { enhanced: "4.7.650" }, action: { suspend_source: "1h" } }\n';
    // No warm-up here: both IPs are seasoned and equally weighted.
    const file = `pools:
  outbound:
    sources: [{ ip: "${WARMING_IP}" }, { ip: "${SEASONED_IP}" }]
pool_selection:
  - { pool: outbound }
${automation}`;
    const shapingFile = await writeShapingFile(defer, file);
    const stack = await startStack({
      zone: mxZone('rep.test', [{ preference: 10, address: '127.0.0.2' }]),
      sinks: [
        {
          host: '127.0.0.2',
          script: {
            rcpt: (_to, client) =>
              client.clientAddress === WARMING_IP
                ? { code: 451, enhanced: '4.7.650', text: 'temporarily rate limited due to IP reputation' }
                : undefined,
          },
        },
      ],
      config: { shaping: { file: shapingFile }, retry: { schedule: ['200ms'], jitter: 0 } },
    });
    defer(() => stack.stop());
    const total = 12;
    await sendEach(
      stack.relay.herald,
      Array.from({ length: total }, (_, i) => `r${i}@rep.test`),
    );
    const suspended = await stack.events.waitFor<SiteEvent>(
      'source_suspended',
      (e: HeraldEvent) => e.type === 'source_suspended',
    );
    assert.equal(suspended.source, WARMING_IP);
    assert.equal(suspended.site, 'mx:mx1.rep.test');
    const sink = stack.sinks[0]!;
    await sink.waitForMessages(total, 20_000);
    assert.ok(
      sink.messages.every((m) => m.clientAddress === SEASONED_IP),
      'delivered from the good IP only',
    );
    // Attempts already under way when the rule fired may still be refused on the warming IP (how
    // many depends on the machine's speed), but no recipient's retry goes back to it: each
    // recipient is refused there at most once.
    const refusals = new Map<string, number>();
    for (const r of sink.rejected)
      if (r.clientAddress === WARMING_IP && r.address)
        refusals.set(r.address, (refusals.get(r.address) ?? 0) + 1);
    assert.deepEqual(
      [...refusals].filter(([, n]) => n > 1),
      [],
      'the suspended IP is not used at the site any more',
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
