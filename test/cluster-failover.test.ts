/**
 * End to end: a Redis Cluster master fails under load, once per `redis.durability`. 3 masters +
 * 3 replicas (cluster-node-timeout 1 s); 300 messages over 10 SMTP sessions, each refused
 * message sent again after RETRY_AFTER_MS (as a client's queue would). Once 100 are accepted, the
 * replica of the master serving the `{queue}` slot (the queue, the spool, the event stream) is
 * frozen (SIGSTOP) and its link dropped by the master (CLIENT KILL TYPE replica) for
 * REPLICA_LAG_MS — a replica behind a broken link — then the master is killed with SIGKILL and the
 * replica thawed. It takes over; Herald reconnects by itself and keeps accepting —
 * a refusal is a 4xx, never a 250 it cannot keep — and every message acknowledged after the
 * failover is delivered.
 * - fast (AOF everysec, asynchronous replication): what was acknowledged while the link was down
 *   dies with the master: its record is not on the new master (a delivery thread that had it from
 *   memory may have delivered it already); the test reports how many, it does not assert zero.
 * - strict: each 250 waited for the replica (WAIT 1 on the `{queue}` master), so every message
 *   acknowledged is delivered and its `accepted` event is on the new master, and nothing bounces
 *   (a message told 451 whose write the failover lost is dropped, not bounced "554 5.3.0 body
 *   missing"; no DSN waits for the sweep): asserted. The promoted replica has no replica of its own, so strict
 *   refuses (451) until the killed node is restarted and has rejoined as its replica; the test
 *   restarts it and reports the 451 window.
 * With the default job locks (delivery.lock_duration 30 s, what a user runs): attempts that end
 * while the slot has no master are recorded once the replica serves it (delivery/outage.ts), so
 * nothing waits for a lock or lease to expire; the test reports the times from the kill to every
 * acknowledged message delivered and to an idle queue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DELIVERY_QUEUE, queueKeys } from '@herald/delivery-core/keys';
import { onNode, type RedisClusterHandle, replicaPortOf, startRedisCluster } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SESSIONS = 10;
const PER_SESSION = 30;
const MESSAGES = SESSIONS * PER_SESSION;
/** The replica is frozen, then the master killed, once this many messages got their 250. */
const KILL_AFTER_ACCEPTED = 100;
/** How long the replica lags (frozen) before its master is killed. */
const REPLICA_LAG_MS = 1_500;
/** A refused message is sent again after this long. */
const RETRY_AFTER_MS = 250;
/** Each message is accepted within this (its retries included), or the test fails. */
const ACCEPTED_WITHIN_MS = 90_000;
const FAILOVER_WITHIN_MS = 30_000;
const DELIVERED_WITHIN_MS = 90_000;
const PREFIX = 'herald';
/**
 * Optional overrides of delivery.lock_duration / stalled_interval / threads (e.g.
 * FAILOVER_LOCK_DURATION=2s, FAILOVER_THREADS=0 for the BullMQ worker without the fast lane) and
 * events.log_level (FAILOVER_LOG_LEVEL=info: the relay's log on stdout); unset, the defaults a
 * user runs.
 */
const LOG_LEVEL_ENV = 'FAILOVER_LOG_LEVEL';
const LOCK_DURATION_ENV = 'FAILOVER_LOCK_DURATION';
const STALLED_INTERVAL_ENV = 'FAILOVER_STALLED_INTERVAL';
const THREADS_ENV = 'FAILOVER_THREADS';

/** Where the run was when a submission was answered. */
type Phase = 'before' | 'lagging' | 'down' | 'after';

interface Message {
  to: string;
  /** Every answer, in order; the last is a 250 unless the message ran out of time. */
  answers: { code: number; response: string; queueId?: string | undefined; phase: Phase; at: number }[];
}

/** The port of the replica of the master on `port`. */
async function replicaOf(port: number): Promise<number> {
  const replica = await replicaPortOf(port);
  assert.ok(replica, `master :${port} has a replica`);
  return replica;
}

/** Where BullMQ holds each job (for a failure's diagnostics): its lists and sets, its state fields. */
async function whereAre(cluster: RedisClusterHandle, jobIds: string[]): Promise<string> {
  const base = `${queueKeys(PREFIX).bullmqPrefix}:${DELIVERY_QUEUE}`;
  const redis = cluster.client();
  try {
    const [meta, marker] = await Promise.all([
      redis.hgetall(`${base}:meta`),
      redis.zrange(`${base}:marker`, 0, -1),
    ]);
    const jobs = await Promise.all(
      jobIds.map(async (id) => {
        const [wait, active, prioritized, delayed, completed, lease, job] = await Promise.all([
          redis.lpos(`${base}:wait`, id),
          redis.lpos(`${base}:active`, id),
          redis.zscore(`${base}:prioritized`, id),
          redis.zscore(`${base}:delayed`, id),
          redis.zscore(`${base}:completed`, id),
          redis.exists(`${base}:${id}:lock`),
          redis.hmget(`${base}:${id}`, 'priority', 'processedOn', 'ats', 'atm', 'delay'),
        ]);
        return `${id} wait=${wait} active=${active} prio=${prioritized} delayed=${delayed} done=${completed} lock=${lease} job=${job.join('/')}`;
      }),
    );
    return `meta=${JSON.stringify(meta)} marker=${marker.join(',')} ${jobs.join('; ')}`;
  } catch (err) {
    return `(not read: ${(err as Error).message})`;
  } finally {
    redis.disconnect();
  }
}

const rel = (at: number, started: number) => `+${at - started} ms`;

/** `{ key: value }` of an environment override, or nothing (the product's default). */
const optional = <T = string>(key: string, env: string, as: (value: string) => T = (v) => v as T) =>
  process.env[env] ? { [key]: as(process.env[env]) } : {};

for (const durability of ['fast', 'strict'] as const) {
  describe(`Redis Cluster failover under load, redis.durability: ${durability}`, () => {
    let cluster: RedisClusterHandle;
    let stack: Stack;
    before(async () => {
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
      stack = await startStack({
        cluster,
        config: {
          redis: { prefix: PREFIX, durability },
          ...optional('events', LOG_LEVEL_ENV, (level) => ({ log_level: level as 'info' })),
          // strict: a WAIT without an answering replica ends (451) within a second.
          ...(durability === 'strict' ? { smtp: { redis_timeout: '1s' } } : {}),
          delivery: {
            ...optional('lock_duration', LOCK_DURATION_ENV),
            ...optional('stalled_interval', STALLED_INTERVAL_ENV),
            ...(process.env[THREADS_ENV] ? { threads: Number(process.env[THREADS_ENV]) } : {}),
          },
        },
      });
    });
    after(async () => {
      await stack?.stop();
      await cluster?.stop();
    });

    it(
      `SIGKILL of the queue slot master behind a lagging replica: the replica takes over, Herald keeps accepting and ${
        durability === 'strict' ? 'loses nothing it acknowledged' : 'delivers what it acknowledged after'
      }`,
      { timeout: 240_000 },
      (t) => failoverUnderLoad(t, cluster, stack, durability),
    );
  });
}

async function failoverUnderLoad(
  t: TestContext,
  cluster: RedisClusterHandle,
  stack: Stack,
  durability: 'fast' | 'strict',
): Promise<void> {
  const queueSlotKey = queueKeys(PREFIX).events;
  const started = Date.now();
  const note = (what: string, at = Date.now()) => t.diagnostic(`${what} at ${rel(at, started)}`);
  let phase: Phase = 'before';
  let accepted = 0;
  let killed: Promise<void> | undefined;
  const killAndWait = async () => {
    const master = await cluster.masterOf(queueSlotKey);
    const replicaPort = await replicaOf(master.port);
    const replica = cluster.nodes.find((n) => n.port === replicaPort)!;
    // The replica stops (SIGSTOP) and the master drops its link (CLIENT KILL): what the master
    // writes from now on is nowhere else, as with a replica behind a slow or broken link.
    process.kill(replica.pid, 'SIGSTOP');
    await onNode(master.port, (m) => m.client('KILL', 'TYPE', 'replica'));
    phase = 'lagging';
    note(`replica :${replica.port} of master :${master.port} frozen, its link dropped`);
    try {
      await delay(REPLICA_LAG_MS);
      await cluster.killMaster(queueSlotKey);
      phase = 'down';
      note(`master :${master.port} killed`);
    } finally {
      process.kill(replica.pid, 'SIGCONT');
    }
    const owner = await cluster.waitForFailover(queueSlotKey, FAILOVER_WITHIN_MS);
    phase = 'after';
    note(`slot ${owner.slot} now on :${owner.port}`);
    if (durability === 'strict') {
      // Strict needs a replica of the new master: the killed node, restarted, rejoins as one.
      await cluster.restartNode(master.port);
      await cluster.waitForReplica(queueSlotKey, FAILOVER_WITHIN_MS);
      note(`:${master.port} restarted and online as a replica of :${owner.port}`);
    }
  };

  const messages: Message[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      for (let i = 0; i < PER_SESSION; i++) {
        const message: Message = { to: `r${next++}@example.test`, answers: [] };
        messages.push(message);
        const deadline = Date.now() + ACCEPTED_WITHIN_MS;
        for (;;) {
          const sent = await stack.submit({
            from: 'load@origin.test',
            to: [message.to],
            body: sampleMessage({ subject: message.to }),
          });
          const { code, response, queueId } = sent;
          message.answers.push({ code, response, queueId, phase, at: Date.now() });
          if (sent.code === 250) break;
          assert.match(sent.response, /^4\d\d /, `a refusal is temporary: ${message.to} ${sent.response}`);
          assert.ok(Date.now() < deadline, `${message.to} accepted within ${ACCEPTED_WITHIN_MS} ms`);
          await delay(RETRY_AFTER_MS);
        }
        if (++accepted === KILL_AFTER_ACCEPTED) killed = killAndWait();
      }
    }),
  );
  assert.ok(killed, 'the master was killed during the load');
  await killed;
  note('load submitted, failover done');

  const ok = messages.map((m) => ({ to: m.to, ...m.answers.at(-1)! }));
  const answers = messages.flatMap((m) => m.answers);
  const count = (p: Phase, refused: boolean) =>
    answers.filter((a) => a.phase === p && (a.code !== 250) === refused).length;
  const phases: Phase[] = ['before', 'lagging', 'down', 'after'];
  t.diagnostic(
    `${MESSAGES} messages, ${answers.length} submissions; 250s per phase ` +
      `${phases.map((p) => `${p} ${count(p, false)}`).join(', ')}; refusals ` +
      `${phases.map((p) => `${p} ${count(p, true)}`).join(', ')} ` +
      `(${[...new Set(answers.filter((a) => a.code !== 250).map((a) => a.response.slice(0, 9)))].join(', ')})`,
  );
  const refusals = answers.filter((a) => a.code !== 250);
  if (refusals.length > 0)
    t.diagnostic(
      `refusals from ${rel(refusals[0]!.at, started)} to ${rel(Math.max(...refusals.map((a) => a.at)), started)}`,
    );
  assert.equal(ok.length, MESSAGES);
  const okAfter = ok.filter((o) => o.phase === 'after');
  assert.ok(okAfter.length > 0, 'Herald accepts mail again after the failover');
  await waitUntil('/readyz answering 200 again (every master answers PING)', async () => {
    return (await stack.get('/readyz')).status === 200;
  });

  // Every 250 after the failover is delivered; then the queue drains.
  const sink = stack.sinks[0]!;
  const delivered = () => new Set(sink.messages.flatMap((m) => m.to));
  let missing = okAfter;
  await waitUntil(
    'every message acknowledged after the failover at the sink',
    () => {
      missing = missing.filter((o) => !delivered().has(o.to));
      return missing.length === 0;
    },
    { timeoutMs: DELIVERED_WITHIN_MS },
  ).catch(async (err: Error) => {
    const { totals } = await stack.relay.herald.queueStats({ maxJobs: 0 });
    t.diagnostic(
      `missing jobs: ${await whereAre(
        cluster,
        missing.slice(0, 10).map((o) => `${o.queueId}.0`),
      )}`,
    );
    throw new Error(`${err.message}; ${missing.length} missing; queue ${JSON.stringify(totals)}`);
  });
  note('every message acknowledged after the failover delivered');
  await stack.waitForIdleQueue(DELIVERED_WITHIN_MS);
  note('queue idle');
  // Lost at the sink: acknowledged, never delivered. Lost in Redis: acknowledged, but its record is
  // not on the new master (a delivery thread may still have delivered it from memory).
  const lost = ok.filter((o) => !delivered().has(o.to));
  const recorded = new Set(
    (await stack.streamEvents()).flatMap((e) => (e.type === 'accepted' ? [e.messageId] : [])),
  );
  const unrecorded = ok.filter((o) => !recorded.has(o.queueId!));
  const list = (os: typeof ok) =>
    os.length > 0 ? ` (${os.map((o) => `${o.to} ${o.phase}`).join(', ')})` : '';
  t.diagnostic(`acknowledged, never delivered (${durability}): ${lost.length}${list(lost)}`);
  t.diagnostic(
    `acknowledged, accepted event not on the new master (${durability}): ${unrecorded.length}` +
      `${list(unrecorded)}`,
  );
  const duplicates = sink.messages.flatMap((m) => m.to).length - delivered().size;
  t.diagnostic(
    `duplicate deliveries (jobs in flight at the kill, writes refused 451 but kept): ${duplicates}`,
  );
  // Every sink takes every recipient: any bounce (and DSN) is one Herald made up, e.g. "554 5.3.0
  // body missing" for a message its client was told 451 about, whose write the failover lost.
  const bounced = stack.events.all.flatMap((e) =>
    e.type === 'bounced' ? [`${e.recipient} ${e.reply.text}`] : [],
  );
  const dsns = stack.events.all.filter((e) => e.type === 'accepted' && e.source === 'dsn').length;
  t.diagnostic(
    `bounces: ${bounced.length}${bounced.length > 0 ? ` (${bounced.join(', ')})` : ''}; DSNs: ${dsns}`,
  );
  if (durability === 'strict') {
    assert.deepEqual(bounced, [], 'strict: no recipient bounces (a 451 promised nothing, not even a bounce)');
    assert.equal(dsns, 0, 'strict: no DSN is sent');
    assert.deepEqual(lost, [], 'strict: every acknowledged message is delivered');
    assert.deepEqual(unrecorded, [], 'strict: every acknowledged message is on the new master');
  } else
    assert.ok(
      [...lost, ...unrecorded].every((o) => o.phase !== 'after'),
      'only messages acknowledged before the failover can be lost',
    );
}
