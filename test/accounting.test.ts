/**
 * End to end: a relay with the worker role and an `accounting` section writes the accounting log
 * from its own deliveries to smtp-server sinks: every attempt result, deferral and terminal
 * outcome in the Redis stream is exactly one record in the file, and a stopped relay leaves its
 * cursor at the last record it wrote.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core';
import {
  ACCOUNTING_COLUMNS,
  type AccountingRecord,
  fileName,
  utcDay,
} from '@herald/delivery-core/accounting';
import { compareStreamIds } from '@herald/delivery-core/events';
import { queueKeys, streamCursorKey } from '@herald/delivery-core/keys';
import { TEST_SHARDS } from './lib/config.js';
import { sampleMessage } from './lib/message.js';
import { startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'sender@origin.test';

type Row = AccountingRecord;

async function rows(directory: string): Promise<Row[]> {
  const out: Row[] = [];
  for (const name of (await readdir(directory)).sort())
    for (const line of (await readFile(join(directory, name), 'utf8')).split('\n'))
      if (line !== '') out.push(JSON.parse(line) as Row);
  return out;
}

/** What the stream says the log must hold: one key per attempt result and per recipient outcome. */
function expectedKeys(entries: [string, HeraldEvent][]): string[] {
  const keys: string[] = [];
  for (const [id, event] of entries) {
    if (event.type === 'attempt') {
      if (event.results.length === 0) keys.push(`${id} attempt `);
      for (const r of event.results) keys.push(`${id} attempt ${r.address}`);
    } else if (
      'recipient' in event &&
      event.type !== 'bounce_received' &&
      event.type !== 'complaint_received'
    )
      keys.push(`${id} ${event.type} ${event.recipient}`);
  }
  return keys;
}

describe('the accounting log in a relay', () => {
  it('writes every attempt, deferral and terminal outcome of real deliveries exactly once', {
    // Its expectations are single-stream ids; queue-shards.test.ts checks the log on 4 shards.
    skip: TEST_SHARDS > 1 ? 'compares single-stream ids (HERALD_TEST_SHARDS > 1)' : false,
  }, async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'herald-e2e-acct-'));
    t.after(() => rm(directory, { recursive: true, force: true }));
    let laterTries = 0;
    const stack = await startStack({
      sinks: [
        {
          host: '127.0.0.2',
          script: {
            rcpt: (to) => {
              if (to === 'nobody@example.test')
                return { code: 550, enhanced: '5.1.1', text: 'no such user, "really"' };
              if (to === 'later@example.test' && laterTries++ === 0)
                return { code: 451, enhanced: '4.2.0', text: 'greylisted, come back' };
              return undefined;
            },
          },
        },
      ],
      config: {
        node_id: 'relay-a',
        accounting: {
          directory,
          format: 'jsonl',
          records: ['attempt', 'delivered', 'bounced', 'expired', 'suppressed', 'deferred'],
        },
      },
    });
    t.after(() => stack.stop());
    const one = await stack.submit({
      from: SENDER,
      to: ['someone@example.test', 'nobody@example.test'],
      body: sampleMessage({ subject: 'accounted' }),
    });
    assert.equal(one.code, 250, one.response);
    const two = await stack.submit({
      from: SENDER,
      to: ['later@example.test'],
      body: sampleMessage({ subject: 'accounted later' }),
    });
    assert.equal(two.code, 250, two.response);
    assert.equal((await stack.events.terminal('later@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();

    const prefix = stack.relay.herald.config.redis.prefix;
    const entries = (await stack.redisClient.xrange(queueKeys(prefix).events, '-', '+')).map(
      ([id, fields]) => [id, JSON.parse(fields[1]!) as HeraldEvent] as [string, HeraldEvent],
    );
    const expected = expectedKeys(entries);
    assert.equal(expected.filter((k) => k.includes(' deferred ')).length, 1, 'one deferral happened');
    // nobody@, and the DSN Herald made for it (origin.test does not resolve).
    assert.equal(expected.filter((k) => k.includes(' bounced ')).length, 2, 'two bounces happened');
    const written = await waitUntil('every accounting record', async () => {
      const found = await rows(directory);
      return found.length >= expected.length && found;
    });
    assert.deepEqual(
      written.map((r) => `${r.stream_id} ${r.type} ${r.recipient}`),
      expected,
      'each record once, in stream order',
    );
    for (const row of written) assert.deepEqual(Object.keys(row), [...ACCOUNTING_COLUMNS]);
    const bounced = written.find((r) => r.type === 'bounced' && r.recipient === 'nobody@example.test')!;
    assert.equal(bounced.sender, SENDER);
    assert.equal(bounced.message_id, one.queueId);
    assert.equal(bounced.code, '550');
    assert.equal(bounced.enhanced_code, '5.1.1');
    assert.match(bounced.reply, /no such user, "really"/);
    assert.equal(bounced.mx_ip, '127.0.0.2');
    const deferred = written.find((r) => r.type === 'deferred')!;
    assert.equal(deferred.recipient, 'later@example.test');
    assert.equal(deferred.code, '451');
    assert.notEqual(deferred.retry_class, '');
    assert.deepEqual(await readdir(directory), [fileName(utcDay(entries[0]![1].time), 'jsonl')]);

    await stack.relay.stop();
    const cursor = await stack.redisClient.get(streamCursorKey(prefix, 'accounting:relay-a'));
    assert.ok(cursor, 'the stop left a cursor');
    assert.ok(
      compareStreamIds(cursor, written[written.length - 1]!.stream_id) >= 0 &&
        compareStreamIds(cursor, entries[entries.length - 1]![0]) <= 0,
      `the cursor ${cursor} is at or after the last record written, within the stream`,
    );
  });
});
