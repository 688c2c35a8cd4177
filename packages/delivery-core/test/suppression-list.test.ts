import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type SuppressionInput, SuppressionList } from '@herald/delivery-core/suppression';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2025, 2, 1);
const PREFIX = 'herald';
const BIG_LIST = 10_000;
/** Above hash-max-listpack-entries (512), so HSCAN pages. */
const PAGED_LIST = 1_000;

/** Calls per command since the last CONFIG RESETSTAT, INFO and CONFIG themselves left out. */
async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
    if (m[1] !== 'info' && !m[1]!.startsWith('config')) calls.set(m[1]!, Number(m[2]));
  return calls;
}

function sink(): { out: { write(chunk: string): boolean }; text(): string } {
  let text = '';
  const write = (chunk: string) => {
    text += chunk;
    return true;
  };
  return { out: { write }, text: () => text };
}

describe('SuppressionList on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  let now = T0;
  let list: SuppressionList;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(() => redis.stop());
  beforeEach(async () => {
    await client.flushall();
    now = T0;
    list = new SuppressionList(client, PREFIX, { now: () => now });
  });

  it('checks any number of addresses in one round trip, case-insensitively', async () => {
    await list.add('acme', { address: 'Gone@Example.com', reason: 'userunknown', source: 'bounce' });
    await list.add('acme', { address: 'angry@example.com', reason: 'feedback', source: 'complaint' });
    const addresses = Array.from({ length: 500 }, (_, i) => `user${i}@example.com`);
    addresses.push('GONE@example.com', 'angry@example.com');
    await client.config('RESETSTAT');
    const found = await list.check('acme', addresses);
    assert.deepEqual([...(await commandCalls(client))], [['hmget', 1]], 'one HMGET, nothing else');
    assert.deepEqual([...found.keys()], ['GONE@example.com', 'angry@example.com']);
    assert.deepEqual(found.get('GONE@example.com'), {
      address: 'gone@example.com',
      reason: 'userunknown',
      source: 'bounce',
      at: T0,
    });
    assert.equal((await list.check('other-tenant', addresses)).size, 0, 'lists are per tenant');
  });

  it('lets a soft entry expire: ignored on read, purged by a later write', async () => {
    await list.add('acme', { address: 'full@example.com', reason: 'mailboxfull', source: 'bounce' });
    assert.equal(
      (await list.check('acme', ['full@example.com'])).get('full@example.com')?.expiresAt,
      T0 + 7 * DAY_MS,
    );
    assert.equal(await list.count('acme'), 1);
    now = T0 + 7 * DAY_MS;
    assert.equal((await list.check('acme', ['full@example.com'])).size, 0);
    assert.equal(await list.count('acme'), 0);
    assert.deepEqual((await list.list('acme')).entries, []);
    assert.equal(await client.hexists('herald:suppress:{acme}', 'full@example.com'), 1, 'reads do not write');
    await list.add('acme', { address: 'other@example.com', reason: 'userunknown', source: 'bounce' });
    assert.equal(await client.hexists('herald:suppress:{acme}', 'full@example.com'), 0);
    assert.equal(await client.zcard('herald:suppress-expiry:{acme}'), 0);
  });

  it('never shortens a longer-lasting entry unless asked to replace it', async () => {
    await list.add('acme', { address: 'gone@example.com', reason: 'userunknown', source: 'bounce' });
    assert.equal(
      await list.add('acme', { address: 'gone@example.com', reason: 'mailboxfull', source: 'bounce' }),
      false,
    );
    assert.equal(
      (await list.check('acme', ['gone@example.com'])).get('gone@example.com')?.reason,
      'userunknown',
    );
    await list.add('acme', { address: 'full@example.com', reason: 'mailboxfull', source: 'bounce' });
    now = T0 + DAY_MS;
    assert.equal(
      await list.add('acme', { address: 'full@example.com', reason: 'mailboxfull', source: 'bounce' }),
      true,
      'a later expiry extends',
    );
    assert.equal(
      (await list.check('acme', ['full@example.com'])).get('full@example.com')?.expiresAt,
      T0 + 8 * DAY_MS,
    );
    assert.equal(
      await list.add(
        'acme',
        { address: 'gone@example.com', reason: 'mailboxfull', source: 'manual' },
        { replace: true },
      ),
      true,
    );
    assert.equal(
      await client.zscore('herald:suppress-expiry:{acme}', 'gone@example.com'),
      String(T0 + 8 * DAY_MS),
    );
  });

  it('keeps the longest entry when relays write the same address at once', async () => {
    const others = Array.from(
      { length: 8 },
      () => new SuppressionList(redis.client(), PREFIX, { now: () => now }),
    );
    const writes = others.map((l, i) =>
      l.add('acme', {
        address: 'race@example.com',
        reason: 'mailboxfull',
        source: 'bounce',
        expiresAt: T0 + (i + 1) * DAY_MS,
      }),
    );
    writes.push(list.add('acme', { address: 'race@example.com', reason: 'userunknown', source: 'bounce' }));
    await Promise.all(writes);
    const entry = (await list.check('acme', ['race@example.com'])).get('race@example.com');
    assert.equal(entry?.reason, 'userunknown');
    assert.equal(entry?.expiresAt, undefined);
    assert.equal(await client.zscore('herald:suppress-expiry:{acme}', 'race@example.com'), null);
  });

  it('removes an address and reports bad input instead of storing it', async () => {
    await list.add('acme', { address: 'gone@example.com', reason: 'userunknown', source: 'bounce' });
    assert.equal(await list.remove('acme', 'GONE@example.com'), true);
    assert.equal(await list.remove('acme', 'gone@example.com'), false);
    const result = await list.addMany('acme', [
      { address: 'not an address', reason: 'manual', source: 'manual' },
      { address: 'ok@example.com', reason: 'Has Spaces', source: 'manual' },
      { address: 'ok@example.com', reason: 'manual', source: 'elsewhere' as SuppressionInput['source'] },
      { address: 'ok@example.com', reason: 'manual', source: 'manual' },
    ]);
    assert.deepEqual(
      result.invalid.map((i) => i.index),
      [0, 1, 2],
    );
    assert.equal(result.written, 1);
    await assert.rejects(list.add('acme', { address: '', reason: 'x', source: 'manual' }), TypeError);
  });

  it('pages through a list with HSCAN', async () => {
    const inputs = Array.from({ length: PAGED_LIST }, (_, i) => ({
      address: `u${i}@example.com`,
      reason: 'userunknown',
      source: 'bounce' as const,
    }));
    await list.addMany('acme', inputs);
    const seen = new Set<string>();
    let cursor = '0';
    let pages = 0;
    do {
      const page = await list.list('acme', { cursor, count: 50 });
      for (const e of page.entries) seen.add(e.address);
      cursor = page.cursor;
      pages++;
    } while (cursor !== '0');
    assert.equal(seen.size, PAGED_LIST);
    assert.ok(pages > 1);
    assert.equal(await list.count('acme'), PAGED_LIST);
  });

  it(`exports and imports ${BIG_LIST} entries without loss`, async () => {
    const reasons = ['userunknown', 'mailboxfull', 'feedback', 'suspend'];
    const sources = ['bounce', 'bounce', 'complaint', 'import'] as const;
    const inputs: SuppressionInput[] = Array.from({ length: BIG_LIST }, (_, i) => ({
      address: i % 97 === 0 ? `"odd,${i}"@example.com` : `user${i}@example.com`,
      reason: reasons[i % 4]!,
      source: sources[i % 4]!,
      at: T0 - i * 1_000,
    }));
    const started = performance.now();
    const added = await list.addMany('acme', inputs);
    const addMs = performance.now() - started;
    assert.equal(added.written, BIG_LIST);
    const exported = sink();
    const exportStarted = performance.now();
    assert.equal(await list.exportCsv('acme', exported.out), BIG_LIST);
    const exportMs = performance.now() - exportStarted;
    const csv = exported.text();
    const importStarted = performance.now();
    const chunks = Readable.from(csv.match(/[\s\S]{1,4096}/g)!.map((c) => Buffer.from(c)));
    const imported = await list.importCsv('copy', chunks, { now });
    const importMs = performance.now() - importStarted;
    assert.deepEqual(imported, { rows: BIG_LIST, written: BIG_LIST, kept: 0, expired: 0, problems: [] });
    const again = sink();
    await list.exportCsv('copy', again.out);
    const sorted = (text: string) => text.trim().split('\r\n').slice(1).sort();
    assert.deepEqual(sorted(again.text()), sorted(csv));
    const original = await list.check('acme', ['"odd,0"@example.com', 'user1@example.com']);
    const copy = await list.check('copy', ['"odd,0"@example.com', 'user1@example.com']);
    assert.deepEqual([...copy.values()], [...original.values()]);
    console.log(
      `suppression: addMany ${BIG_LIST} in ${addMs.toFixed(0)} ms, export ${exportMs.toFixed(0)} ms, import ${importMs.toFixed(0)} ms`,
    );
  });

  it('exports a cell a spreadsheet would run as a formula as text, and imports it back exact', async () => {
    const hostile = ['=cmd|x@example.com', '+sum@example.com', '-x@example.com', "'=already@example.com"];
    await list.addMany(
      'formula',
      hostile.map((address) => ({ address, reason: 'manual', source: 'manual' as const, at: T0 })),
    );
    const exported = sink();
    assert.equal(await list.exportCsv('formula', exported.out), hostile.length);
    const cells = exported
      .text()
      .trim()
      .split('\r\n')
      .slice(1)
      .map((row) => row.split(',')[0]!);
    assert.deepEqual(
      cells.sort(),
      ["''=already@example.com", "'+sum@example.com", "'-x@example.com", "'=cmd|x@example.com"].sort(),
    );
    for (const cell of cells) assert.doesNotMatch(cell, /^[=+\-@\t\r]/);
    const imported = await list.importCsv('formula-copy', Readable.from([exported.text()]), { now });
    assert.equal(imported.written, hostile.length, JSON.stringify(imported.problems));
    const copy = await list.check('formula-copy', hostile);
    assert.equal([...copy.values()].filter(Boolean).length, hostile.length, 'the same addresses read back');
  });

  it('imports good lines and reports bad ones by line number', async () => {
    const csv = [
      'Address,Reason,Expires_At',
      'a@example.com,userunknown,',
      'not-an-address,userunknown,',
      'b@example.com,mailboxfull,2000-01-01T00:00:00Z',
      'c@example.com,manual,never',
      'd@example.com,manual',
      'e@example.com,,2030-01-01T00:00:00Z',
      'f@example.com,manual,tomorrow',
      '',
    ].join('\n');
    const result = await list.importCsv('acme', Readable.from([csv]), { now });
    assert.equal(result.rows, 7);
    assert.equal(result.written, 3);
    assert.equal(result.expired, 1);
    assert.deepEqual(
      result.problems.map((p) => p.line),
      [3, 6, 8],
    );
    assert.match(result.problems[1]!.message, /expected 3 fields, found 2/);
    const found = await list.check('acme', ['a@example.com', 'c@example.com', 'e@example.com']);
    assert.equal(found.get('c@example.com')?.source, 'import');
    assert.equal(found.get('e@example.com')?.reason, 'manual');
    assert.equal(found.get('e@example.com')?.expiresAt, Date.UTC(2030, 0, 1));
  });

  it('refuses a file without a header row and imports nothing', async () => {
    const result = await list.importCsv('acme', Readable.from(['a@example.com,userunknown\n']));
    assert.equal(result.written, 0);
    assert.equal(result.problems[0]?.line, 1);
    assert.match(result.problems[0]!.message, /header row/);
    assert.equal(await list.count('acme'), 0);
  });
});
