import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { BODY_PIECE_BYTES, domainOf, groupByDomain, newMessageId, Spool } from '../src/queue/index.js';
import { DeadlineExceeded } from '../src/util/index.js';

const PAUSE_MS = 1_000;

describe('spool on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, 'herald');
  });
  after(async () => {
    await spool.close();
    await redis.stop();
  });

  it('stores the body once and one job per destination domain, all in one transaction', async () => {
    const id = newMessageId();
    const body = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const result = await spool.enqueue({
      id,
      tenant: 't1',
      from: 'a@sender.test',
      recipients: ['x@one.test', 'y@two.test', 'z@ONE.test'],
      body,
      acceptedAt: Date.now(),
    });
    assert.deepEqual(
      result.jobs.map((j) => [j.domain, j.recipients]),
      [
        ['one.test', ['x@one.test', 'z@ONE.test']],
        ['two.test', ['y@two.test']],
      ],
    );
    assert.deepEqual(await spool.getBody(id), body);
    const jobs = await spool.queueFor(id).getJobs(['waiting']);
    const mine = jobs.filter((j) => j.data.messageId === id);
    assert.equal(mine.length, 2);
    assert.deepEqual(
      mine.map((j) => j.id).sort(),
      result.jobs.map((j) => j.id).sort(),
      'BullMQ job ids are ours',
    );
    assert.deepEqual(mine.find((j) => j.data.domain === 'two.test')?.data.recipients, [
      { address: 'y@two.test', state: 'pending' },
    ]);
    assert.equal(await client.scard(spool.keysFor(id).pendingJobs(id)), 2);
  });

  it('stages a body over one piece in pieces, keeps it without expiry once spooled, and reads it back whole', async () => {
    const id = newMessageId();
    const body = Buffer.alloc(2 * BODY_PIECE_BYTES + 12_345);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    await spool.enqueue(
      { id, tenant: 't', from: '', recipients: ['big@one.test'], body, acceptedAt: Date.now() },
      { stepDeadlineMs: 10_000 },
    );
    assert.equal(
      await client.pttl(spool.keysFor(id).body(id)),
      -1,
      'the staging expiry was removed in the MULTI',
    );
    assert.deepEqual(await spool.getBody(id, body.length), body, 'read in pieces');
    assert.deepEqual(await spool.getBody(id), body, 'read whole');
    assert.deepEqual(await spool.getBody(id, body.length + 1), body, 'another size: read whole');
    assert.equal(await spool.getBody(newMessageId(), body.length), null, 'a missing body');
  });

  it('a staging that misses its step deadline answers DeadlineExceeded and deletes what it wrote', async () => {
    const id = newMessageId();
    const admin = redis.client();
    // Redis holds every write for a second: the first piece cannot be acknowledged in 100 ms.
    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
    const body = Buffer.alloc(BODY_PIECE_BYTES + 1, 'p');
    await assert.rejects(
      spool.enqueue(
        { id, tenant: 't', from: '', recipients: ['late@one.test'], body, acceptedAt: Date.now() },
        { stepDeadlineMs: 100 },
      ),
      DeadlineExceeded,
    );
    // After the pause the first piece's SET runs, then the DEL sent behind it on the same connection.
    const deadline = Date.now() + PAUSE_MS + 5_000;
    await delay(PAUSE_MS);
    while ((await client.exists(spool.keysFor(id).body(id))) === 1 && Date.now() < deadline) await delay(50);
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 0, 'nothing of the staged body is left');
    assert.equal(await client.exists(spool.keysFor(id).message(id)), 0, 'and no message record was written');
    admin.disconnect();
  });

  it('a transaction that completes after its caller gave up still says it was written (onWritten)', async () => {
    const id = newMessageId();
    const admin = redis.client();
    // Redis holds every write for a second: the MULTI cannot be acknowledged within 100 ms.
    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
    let written!: () => void;
    const wasWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    await assert.rejects(
      spool.enqueue(
        {
          id,
          tenant: 't',
          from: '',
          recipients: ['late@one.test'],
          body: Buffer.from('x\r\n'),
          acceptedAt: Date.now(),
        },
        { stepDeadlineMs: 100, onWritten: written },
      ),
      DeadlineExceeded,
    );
    // The caller heard DeadlineExceeded (a client 451); the message is queued once the pause ends.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('onWritten not called after the pause')), PAUSE_MS + 10_000);
    });
    await Promise.race([wasWritten, bound]).finally(() => clearTimeout(timer));
    assert.equal(await client.exists(spool.keysFor(id).message(id)), 1, 'the message record is there');
    admin.disconnect();
  });

  it('deletes the body when the last job finishes, and finishing twice changes nothing', async () => {
    const id = newMessageId();
    const { jobs } = await spool.enqueue({
      id,
      tenant: 't',
      from: '',
      recipients: ['a@a.test', 'b@b.test'],
      body: Buffer.from('x'),
      acceptedAt: 1,
    });
    assert.equal(await spool.finishJob(id, jobs[0]!.id), 1);
    assert.equal(await spool.finishJob(id, jobs[0]!.id), 1);
    assert.notEqual(await spool.getBody(id), null);
    assert.equal(await spool.finishJob(id, jobs[1]!.id), 0);
    assert.equal(await spool.getBody(id), null);
    assert.equal(await client.exists(spool.keysFor(id).message(id)), 0);
  });

  it('messages enqueued in the same turn are committed together, each with its own jobs', async () => {
    const ids = Array.from({ length: 20 }, () => newMessageId());
    const results = await Promise.all(
      ids.map((id, i) =>
        spool.enqueue({
          id,
          tenant: 't',
          from: '',
          recipients: [`r${i}@a.test`, `r${i}@b.test`],
          body: Buffer.from(`m${i}`),
          acceptedAt: 1,
        }),
      ),
    );
    results.forEach((result, i) => {
      assert.equal(result.messageId, ids[i]);
      assert.deepEqual(
        result.jobs.map((j) => j.recipients),
        [[`r${i}@a.test`], [`r${i}@b.test`]],
      );
    });
    assert.deepEqual((await spool.getBody(ids[7]!))?.toString(), 'm7');
    const stored = await Promise.all(
      results.flatMap((r) => r.jobs.map((j) => spool.queueFor(j.id).getJob(j.id))),
    );
    assert.equal(stored.filter(Boolean).length, 40);
  });

  it('enqueue fails and writes nothing while Redis is down', async () => {
    await redis.kill();
    const id = newMessageId();
    await assert.rejects(
      spool.enqueue({
        id,
        tenant: 't',
        from: '',
        recipients: ['a@a.test'],
        body: Buffer.from('x'),
        acceptedAt: 1,
      }),
    );
    await redis.restart();
    // wait for the client to reconnect, bounded
    for (let i = 0; i < 50 && client.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 0);
  });
});

describe('message ids and recipient grouping', () => {
  it('ids sort by acceptance time and do not collide', () => {
    const a = newMessageId(1_000);
    const b = newMessageId(2_000);
    assert.ok(a < b);
    assert.notEqual(newMessageId(5), newMessageId(5));
  });
  it('groups by lower-cased domain and drops duplicate recipients', () => {
    assert.deepEqual(
      [...groupByDomain(['a@X.test', 'b@x.test', 'A@x.TEST', 'c@y.test']).entries()],
      [
        ['x.test', ['a@X.test', 'b@x.test']],
        ['y.test', ['c@y.test']],
      ],
    );
    assert.equal(domainOf('user@Example.COM.'), 'example.com');
  });
});
