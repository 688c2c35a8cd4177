/**
 * End to end: a Redis Cluster master fails under load. 3 masters + 3 replicas
 * (cluster-node-timeout 1 s); 300 messages over 10 SMTP sessions; once 100 are accepted, the
 * master serving the `{queue}` slot (the queue, the spool, the event stream) is killed with
 * SIGKILL. Its replica takes over; Herald reconnects by itself and keeps accepting — a refusal
 * while the slot has no master is a 4xx (counted and reported), never a 250 it cannot keep — and
 * every message acknowledged after the failover is delivered. In fast durability (AOF everysec,
 * asynchronous replication) a 250 given just before the kill may be lost with the master's
 * unreplicated writes: the test reports how many, it does not assert zero.
 * With the default job locks (delivery.lock_duration 30 s): attempts that end while the slot has
 * no master are recorded once the replica serves it (delivery/outage.ts), so nothing waits for a
 * lock or lease to expire, and the queue is idle within one lock duration of the failover (with
 * locks shorter than the load, DRAIN_AFTER_LOAD_MS after the load). Only a job whose end the
 * failed master acknowledged but had not replicated would wait for its lock; with the replica on
 * loopback no run has met one. The test reports the times from the kill to every acknowledged
 * message delivered and to an idle queue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisClusterHandle, startRedisCluster } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SESSIONS = 10;
const PER_SESSION = 30;
const MESSAGES = SESSIONS * PER_SESSION;
/** The master is killed once this many messages got their 250. */
const KILL_AFTER_ACCEPTED = 100;
const FAILOVER_WITHIN_MS = 30_000;
/** With locks shorter than the load, what was submitted last is delivered within this after it. */
const DRAIN_AFTER_LOAD_MS = 10_000;
const PREFIX = 'herald';
/**
 * Optional overrides of delivery.lock_duration / stalled_interval / threads (e.g.
 * FAILOVER_LOCK_DURATION=2s, FAILOVER_THREADS=0 for the BullMQ worker without the fast lane);
 * unset, the defaults a user runs.
 */
const LOCK_DURATION_ENV = 'FAILOVER_LOCK_DURATION';
const STALLED_INTERVAL_ENV = 'FAILOVER_STALLED_INTERVAL';
const THREADS_ENV = 'FAILOVER_THREADS';

interface Outcome {
  to: string;
  code: number;
  response: string;
  /** The 250 came after the replica had taken over. */
  afterFailover: boolean;
}

describe('Redis Cluster failover under load', () => {
  let cluster: RedisClusterHandle;
  let stack: Stack;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    const env = (name: string) => process.env[name] || undefined;
    const lock = env(LOCK_DURATION_ENV);
    const stalled = env(STALLED_INTERVAL_ENV);
    const threads = env(THREADS_ENV);
    stack = await startStack({
      cluster,
      config: {
        redis: { prefix: PREFIX },
        delivery: {
          ...(lock ? { lock_duration: lock } : {}),
          ...(stalled ? { stalled_interval: stalled } : {}),
          ...(threads ? { threads: Number(threads) } : {}),
        },
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  it('SIGKILL of the queue slot master: the replica takes over, Herald keeps accepting and delivers what it acknowledged after', {
    timeout: 180_000,
  }, async (t) => {
    const queueSlotKey = queueKeys(PREFIX).events;
    const started = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at +${Date.now() - started} ms`);
    const outcomes: Outcome[] = [];
    let accepted = 0;
    let failedOver = false;
    let killed: Promise<void> | undefined;
    let killedAt = 0;
    let failedOverAt = 0;
    const killAndWait = async () => {
      const victim = await cluster.killMaster(queueSlotKey);
      killedAt = Date.now();
      const owner = await cluster.waitForFailover(queueSlotKey, FAILOVER_WITHIN_MS);
      failedOver = true;
      failedOverAt = Date.now();
      t.diagnostic(
        `killed master :${victim.port} (pid ${victim.pid}); slot ${owner.slot} now on :${owner.port}`,
      );
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: SESSIONS }, async () => {
        for (let i = 0; i < PER_SESSION; i++) {
          const to = `r${next++}@example.test`;
          const sent = await stack.submit({
            from: 'load@origin.test',
            to: [to],
            body: sampleMessage({ subject: to }),
          });
          outcomes.push({ to, code: sent.code, response: sent.response, afterFailover: failedOver });
          if (sent.code === 250 && ++accepted === KILL_AFTER_ACCEPTED) killed = killAndWait();
        }
      }),
    );
    assert.ok(killed, 'the master was killed during the load');
    await killed;
    const loadDoneAt = Date.now();
    phase('load submitted, failover done');

    const ok = outcomes.filter((o) => o.code === 250);
    const refused = outcomes.filter((o) => o.code !== 250);
    const okAfter = ok.filter((o) => o.afterFailover);
    t.diagnostic(
      `${MESSAGES} submitted: ${ok.length} answered 250 (${okAfter.length} after the failover), ` +
        `${refused.length} refused (${[...new Set(refused.map((o) => o.response.slice(0, 9)))].join(', ')})`,
    );
    assert.equal(outcomes.length, MESSAGES);
    for (const o of refused)
      assert.match(o.response, /^4\d\d /, `a refusal is temporary: ${o.to} ${o.response}`);
    assert.ok(okAfter.length > 0, 'Herald accepts mail again after the failover');
    await waitUntil('/readyz answering 200 again (every master answers PING)', async () => {
      return (await stack.get('/readyz')).status === 200;
    });
    phase('/readyz 200');

    // Every 250 after the failover is delivered; then the queue drains, all within one lock
    // duration of the failover: nothing waited for a lock or a lease to expire.
    const lockMs = stack.relay.herald.config.delivery.lock_duration;
    const deadline = Math.max(failedOverAt + lockMs, loadDoneAt + DRAIN_AFTER_LOAD_MS);
    const withinLock = () => Math.max(1, deadline - Date.now());
    t.diagnostic(
      `kill to failover: ${failedOverAt - killedAt} ms; delivery.lock_duration ${lockMs} ms, ` +
        `stalled_interval ${stack.relay.herald.config.delivery.stalled_interval} ms`,
    );
    const sink = stack.sinks[0]!;
    const delivered = () => new Set(sink.messages.flatMap((m) => m.to));
    let missing: Outcome[] = okAfter;
    await waitUntil(
      'every message acknowledged after the failover at the sink',
      () => {
        missing = missing.filter((o) => !delivered().has(o.to));
        return missing.length === 0;
      },
      { timeoutMs: withinLock() },
    ).catch(async (err: Error) => {
      const { totals } = await stack.relay.herald.queueStats({ maxJobs: 0 });
      throw new Error(`${err.message}; ${missing.length} missing; queue ${JSON.stringify(totals)}`);
    });
    phase('every message acknowledged after the failover delivered');
    await stack.waitForIdleQueue(withinLock());
    phase('queue idle');
    // When each acknowledged recipient first reached the sink; the last of those is "all delivered".
    const firstDelivery = new Map<string, number>();
    for (const m of sink.messages)
      for (const to of m.to)
        firstDelivery.set(to, Math.min(firstDelivery.get(to) ?? m.receivedAt, m.receivedAt));
    const allDeliveredAt = Math.max(...ok.map((o) => firstDelivery.get(o.to) ?? 0));
    t.diagnostic(
      `kill to every acknowledged message delivered: ${allDeliveredAt - killedAt} ms; ` +
        `kill to an idle queue: ${Date.now() - killedAt} ms`,
    );
    const lost = ok.filter((o) => !delivered().has(o.to));
    t.diagnostic(
      `acknowledged but lost with the failed master (fast mode, asynchronous replication): ${lost.length}` +
        `${lost.length > 0 ? ` (${lost.map((o) => o.to).join(', ')})` : ''}`,
    );
    assert.ok(
      lost.every((o) => !o.afterFailover),
      'only messages acknowledged before the failover can be lost',
    );
    const duplicates = sink.messages.flatMap((m) => m.to).length - delivered().size;
    t.diagnostic(`duplicate deliveries (jobs in flight at the kill): ${duplicates}`);
  });
});
