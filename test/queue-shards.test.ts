/**
 * End to end with `queue.shards: 4` on one redis-server: 200 messages over SMTP are spread over
 * the four shards and all delivered by the relay's worker thread (a worker per shard); the events
 * of every shard reach a webhook endpoint and the accounting log, each message's in its order;
 * queue operations see the jobs of every shard; every shard's keys exist.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AccountingRecord } from '@herald/delivery-core/accounting';
import { queueKeys } from '@herald/delivery-core/keys';
import { shardOf } from '@herald/delivery-core/queue';
import { startReceiver } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SENDER = 'sender@origin.test';
const MESSAGES = 200;
/** Messages submitted at once (each its own SMTP session). */
const SESSIONS = 20;
const SHARDS = 4;

async function rows(directory: string): Promise<AccountingRecord[]> {
  const out: AccountingRecord[] = [];
  for (const name of (await readdir(directory)).sort())
    for (const line of (await readFile(join(directory, name), 'utf8')).split('\n'))
      if (line !== '') out.push(JSON.parse(line) as AccountingRecord);
  return out;
}

describe('a relay on a queue of 4 shards', () => {
  it('delivers 200 messages from every shard; webhooks, accounting and queue operations see them all', async (t) => {
    const receiver = await startReceiver(SECRET);
    t.after(() => receiver.close());
    const directory = await mkdtemp(join(tmpdir(), 'herald-e2e-shards-'));
    t.after(() => rm(directory, { recursive: true, force: true }));
    const stack = await startStack({
      sinks: [
        '127.0.0.2',
        { host: '127.0.0.3', script: { rcpt: () => ({ code: 451, enhanced: '4.2.0', text: 'try later' }) } },
      ],
      zone: {
        ...mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('later.test', [{ preference: 10, address: '127.0.0.3' }]),
      },
      config: {
        queue: { shards: SHARDS },
        node_id: 'relay-shards',
        webhooks: [
          {
            tenant: 'default',
            url: receiver.url,
            events: ['accepted', 'delivered'],
            secret: SECRET,
            batch_wait: '50ms',
          },
        ],
        accounting: { directory, format: 'jsonl', records: ['attempt', 'delivered', 'bounced'] },
      },
    });
    t.after(() => stack.stop());
    const herald = stack.relay.herald;
    assert.equal(herald.shards.layout.max, SHARDS);

    const ids: string[] = [];
    for (let start = 0; start < MESSAGES; start += SESSIONS) {
      const sent = await Promise.all(
        Array.from({ length: Math.min(SESSIONS, MESSAGES - start) }, (_, i) =>
          stack.submit({
            from: SENDER,
            to: [`r${start + i}@example.test`],
            body: sampleMessage({ subject: `sharded ${start + i}` }),
          }),
        ),
      );
      for (const reply of sent) {
        assert.equal(reply.code, 250, reply.response);
        ids.push(reply.queueId!);
      }
    }
    const shardCounts = new Map<number, number>();
    for (const id of ids) {
      const shard = shardOf(id, herald.shards.layout);
      shardCounts.set(shard, (shardCounts.get(shard) ?? 0) + 1);
    }
    assert.deepEqual([...shardCounts.keys()].sort(), [0, 1, 2, 3], 'messages in every shard');

    // Jobs that wait (later.test defers) in every shard, seen by `herald queue list`'s verb.
    const waiting: string[] = [];
    for (let n = 0; n < 2 * SHARDS; n++) {
      const reply = await stack.submit({
        from: SENDER,
        to: [`w${n}@later.test`],
        body: sampleMessage({ subject: `waits ${n}` }),
      });
      assert.equal(reply.code, 250, reply.response);
      waiting.push(reply.queueId!);
    }
    await stack.events.waitFor(
      'every later.test deferral',
      () =>
        stack.events.all.filter((e) => e.type === 'deferred' && e.recipient.endsWith('@later.test')).length >=
        waiting.length,
    );
    const listed = await waitUntil('the waiting jobs listed', async () => {
      const page = await herald.listQueue('domain:later.test', { limit: 100 });
      return page.jobs.length === waiting.length && page;
    });
    assert.deepEqual(
      new Set(listed.jobs.map((j) => shardOf(j.jobId, herald.shards.layout))),
      new Set([0, 1, 2, 3]),
      'queue list shows jobs of every shard',
    );
    assert.deepEqual(
      listed.jobs.map((j) => j.messageId),
      [...waiting].sort(),
      'in acceptance (id) order',
    );
    const removed = await herald.deleteQueued({ toDomains: ['later.test'] });
    // A job whose worker ended it meanwhile (a retry that met the mark) is not counted here, but
    // it ends through the mark all the same: the terminal events below are the proof.
    const counted = removed.removed.jobs + removed.marked.jobs;
    assert.ok(counted >= 1 && counted <= waiting.length, JSON.stringify(removed));

    await stack.assertEveryRecipientTerminatedOnce(120_000);
    const later = stack.events.all.filter(
      (e) => (e.type === 'bounced' || e.type === 'delivered') && e.recipient.endsWith('@later.test'),
    );
    assert.equal(later.length, waiting.length);
    for (const e of later) assert.ok(e.type === 'bounced' && e.operator === 'delete', JSON.stringify(e));
    await stack.sinks[0]!.waitForMessages(MESSAGES);

    // Every shard's keys: its BullMQ queue, its event stream, its messages' traces.
    const redis = stack.redisClient;
    const prefix = herald.config.redis.prefix;
    for (let s = 0; s < SHARDS; s++) {
      const q = queueKeys(prefix, s);
      assert.ok((await redis.xlen(q.events)) > 0, `shard ${s}'s event stream`);
      assert.ok((await redis.keys(`${q.bullmqPrefix}:delivery:*`)).length > 0, `shard ${s}'s BullMQ keys`);
      assert.ok((await redis.keys(q.trace('*'))).length > 0, `shard ${s}'s traces`);
    }

    // The webhook endpoint gets every message's accepted then delivered event.
    const received = () => receiver.accepted().flatMap((r) => r.events);
    await receiver.waitFor(
      () =>
        new Set(
          received()
            .filter((e) => e.type === 'delivered')
            .map((e) => e.messageId),
        ).size >= MESSAGES,
      60_000,
    );
    assert.ok(receiver.requests.every((r) => r.verified));
    for (const id of ids) {
      const mine = received()
        .filter((e) => e.messageId === id)
        .map((e) => e.type);
      assert.deepEqual(mine, ['accepted', 'delivered'], `message ${id}'s events in order, once`);
    }

    // The accounting log: each message's attempt before its delivery, every message once.
    const written = await waitUntil('every delivery in the accounting log', async () => {
      const found = await rows(directory);
      return found.filter((r) => r.type === 'delivered').length >= MESSAGES && found;
    });
    for (const id of ids) {
      const mine = written.filter((r) => r.message_id === id).map((r) => r.type);
      assert.deepEqual(mine, ['attempt', 'delivered'], `message ${id}'s records in order, once`);
    }
  });
});
