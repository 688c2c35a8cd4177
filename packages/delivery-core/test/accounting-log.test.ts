/**
 * The accounting log against a real Redis: events written by the real RedisEventSink, read by the
 * log from its cursor, checked in the files it wrote (parsed with the RFC 4180 reader below).
 * Every wait is for records in a file, bounded; never for time.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ACCOUNTING_COLUMNS,
  type AccountingLog,
  accountingStatus,
  createAccountingLog,
  fileName,
} from '@herald/delivery-core/accounting';
import { type AccountingRecordType, type ConfigError, parseConfig } from '@herald/delivery-core/config';
import { type HeraldEvent, RedisEventSink, streamCursor } from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';

const WAIT_MS = 15_000;
const POLL_MS = 20;
const DAY1 = Date.parse('2026-03-01T12:00:00Z');
const MIDNIGHT = Date.parse('2026-03-02T00:00:00Z');

/** RFC 4180: records of fields; quoted fields may hold commas, doubled quotes, CR and LF. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(quoted, false, 'the file ends inside a quoted field');
  assert.equal(field + record.join(''), '', 'the file ends with an unterminated record');
  return records;
}

type Row = Record<string, string>;

async function readCsvRows(path: string): Promise<Row[]> {
  const [header, ...rows] = parseCsv(await readFile(path, 'utf8'));
  assert.deepEqual(header, [...ACCOUNTING_COLUMNS], `the header of ${path}`);
  return rows.map((fields) => {
    assert.equal(fields.length, ACCOUNTING_COLUMNS.length, `a record of ${path}: ${fields.join('|')}`);
    return Object.fromEntries(ACCOUNTING_COLUMNS.map((c, i) => [c, fields[i]!]));
  });
}

async function rowsIn(directory: string, format: 'csv' | 'jsonl' = 'csv'): Promise<Row[]> {
  const names = (await readdir(directory)).filter((n) => n.endsWith(`.${format}`)).sort();
  const rows: Row[] = [];
  for (const name of names) {
    const path = join(directory, name);
    if (format === 'csv') rows.push(...(await readCsvRows(path)));
    else
      for (const line of (await readFile(path, 'utf8')).split('\n').filter((l) => l !== ''))
        rows.push(JSON.parse(line) as Row);
  }
  return rows;
}

async function waitForRows(
  directory: string,
  count: number,
  format: 'csv' | 'jsonl' = 'csv',
): Promise<Row[]> {
  const deadline = Date.now() + WAIT_MS;
  let rows: Row[] = [];
  for (;;) {
    try {
      rows = await rowsIn(directory, format);
      if (rows.length >= count) return rows;
    } catch {
      // a file being written: read again
    }
    if (Date.now() > deadline) assert.fail(`waited for ${count} accounting records, have ${rows.length}`);
    await delay(POLL_MS);
  }
}

const reply = (code: number, text: string, enhanced?: string) => ({
  code,
  text,
  stage: 'rcpt' as const,
  ...(enhanced ? { enhanced } : {}),
});

/** One message to two recipients at one domain: accepted, one attempt (a 250 and a 550), outcomes. */
function messageEvents(id: string, time: number, replyText = 'ok'): HeraldEvent[] {
  const base = { messageId: id, tenant: 'acme', time };
  return [
    {
      ...base,
      type: 'accepted',
      from: 'sender@origin.test',
      recipients: ['a@example.test', 'b@example.test'],
      size: 100,
      jobs: 1,
      source: 'api',
      campaign: 'spring',
    },
    {
      ...base,
      type: 'attempt',
      domain: 'example.test',
      attempt: 1,
      host: { hostname: 'mx1.example.test', address: '127.0.0.2', port: 25, tls: true },
      hostErrors: [],
      results: [
        { address: 'a@example.test', accepted: true, reply: reply(250, replyText, '2.0.0') },
        { address: 'b@example.test', accepted: false, reply: reply(550, 'no such user', '5.1.1') },
      ],
      durationMs: 12,
    },
    {
      ...base,
      type: 'delivered',
      domain: 'example.test',
      recipient: 'a@example.test',
      attempt: 1,
      reply: reply(250, replyText, '2.0.0'),
      latencyMs: 30,
    },
    {
      ...base,
      type: 'bounced',
      domain: 'example.test',
      recipient: 'b@example.test',
      attempt: 1,
      reply: reply(550, 'no such user', '5.1.1'),
      latencyMs: 31,
    },
  ];
}

describe('the accounting log', () => {
  let redis: RedisHandle;
  let client: Redis;
  let prefix = 0;
  const dirs: string[] = [];

  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh prefix, directory, event sink and a factory of logs (each with its own connection). */
  async function setup(
    format: 'csv' | 'jsonl' = 'csv',
    records: AccountingRecordType[] = ['attempt', 'delivered', 'bounced', 'expired', 'suppressed'],
  ) {
    const name = `acct${++prefix}`;
    const directory = await mkdtemp(join(tmpdir(), 'herald-acct-'));
    dirs.push(directory);
    const streamKey = queueKeys(name).events;
    const logLines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const sink = new RedisEventSink({
      redis: client,
      streamKey,
      streamMaxLen: 100_000,
      logger: pino({ level: 'silent' }),
    });
    const emit = async (events: HeraldEvent[]) => {
      for (const event of events) sink.emit(event);
      await sink.flush();
    };
    const running: { log: AccountingLog; conn: Redis }[] = [];
    const registry = new Registry();
    const start = (dir = directory) => {
      const conn = redis.client();
      const log = createAccountingLog({
        redis: conn,
        streamKey,
        cursor: streamCursor(conn, name, 'accounting:test'),
        directory: dir,
        format,
        records,
        logger,
        registry,
        blockMs: 100,
      });
      void log.start();
      running.push({ log, conn });
      return log;
    };
    const stopAll = async () => {
      for (const { log, conn } of running.splice(0)) {
        await log.stop();
        conn.disconnect();
      }
    };
    after(stopAll);
    return { name, directory, streamKey, emit, start, stopAll, logLines, registry };
  }

  it('writes every attempt result and every terminal outcome once, with a header', async () => {
    const s = await setup();
    const events = messageEvents('m1', DAY1);
    const suppressed: HeraldEvent = {
      type: 'suppressed',
      time: DAY1 + 1,
      messageId: 'm2',
      tenant: 'acme',
      domain: 'example.test',
      recipient: 'gone@example.test',
      attempt: 0,
      reply: reply(550, 'suppressed', '5.7.1'),
      latencyMs: 0,
    };
    const expired: HeraldEvent = {
      ...suppressed,
      type: 'expired',
      messageId: 'm3',
      recipient: 'late@example.test',
    };
    const deferred: HeraldEvent = {
      ...suppressed,
      type: 'deferred',
      messageId: 'm4',
      recipient: 'slow@example.test',
    };
    const deleted: HeraldEvent = {
      ...suppressed,
      type: 'bounced',
      messageId: 'm5',
      recipient: 'held@example.test',
      reply: reply(550, 'deleted by operator', '5.0.0'),
      operator: 'delete',
    };
    const site: HeraldEvent = { type: 'site_resumed', time: DAY1 + 2, site: 'mx:x', reason: 'operator' };
    await s.emit([...events, suppressed, expired, deferred, deleted, site]);
    s.start();
    const rows = await waitForRows(s.directory, 7);
    await s.stopAll();
    assert.deepEqual(
      rows.map((r) => [r.type, r.recipient, r.state, r.code]),
      [
        ['attempt', 'a@example.test', 'accepted', '250'],
        ['attempt', 'b@example.test', 'refused', '550'],
        ['delivered', 'a@example.test', 'delivered', '250'],
        ['bounced', 'b@example.test', 'bounced', '550'],
        ['suppressed', 'gone@example.test', 'suppressed', '550'],
        ['expired', 'late@example.test', 'expired', '550'],
        ['bounced', 'held@example.test', 'bounced', '550'],
      ],
      'deferred is not kept by default; site events give no record',
    );
    assert.deepEqual(
      rows.map((r) => r.operator),
      ['', '', '', '', '', '', 'delete'],
      'an operator outcome says so',
    );
    const delivered = rows[2]!;
    assert.equal(delivered.sender, 'sender@origin.test', 'the sender from the accepted event');
    assert.equal(delivered.campaign, 'spring');
    assert.equal(delivered.mx_host, 'mx1.example.test', 'the host from the attempt before it');
    assert.equal(delivered.mx_ip, '127.0.0.2');
    assert.equal(delivered.tls, 'yes');
    assert.equal(delivered.time, new Date(DAY1).toISOString());
    assert.equal(delivered.enhanced_code, '2.0.0');
    assert.equal(delivered.latency_ms, '30');
    assert.deepEqual(await readdir(s.directory), [fileName('2026-03-01', 'csv')]);
    const written = await s.registry.getSingleMetricAsString('herald_accounting_records_total');
    assert.match(written, /herald_accounting_records_total\{type="attempt"\} 2/);
  });

  it('writes an attempt that reached no host as unreached per recipient, with the host tried, like its deferrals', async () => {
    const s = await setup('csv', ['attempt', 'deferred']);
    const base = { messageId: 'u1', tenant: 'acme', time: DAY1 };
    const refused = {
      code: 451,
      enhanced: '4.4.1',
      text: 'connect ECONNREFUSED 127.0.0.2:25',
      stage: 'connect' as const,
      host: 'mx1.example.test',
    };
    const recipients = ['a@example.test', 'b@example.test'];
    const deferrals = (attempt: number): HeraldEvent[] =>
      recipients.map((recipient) => ({
        ...base,
        type: 'deferred',
        domain: 'example.test',
        recipient,
        attempt,
        reply: refused,
        retryClass: 'transient',
        nextAttemptAt: DAY1 + 60_000,
        latencyMs: 5,
      }));
    await s.emit([
      {
        ...base,
        type: 'accepted',
        from: '',
        recipients,
        size: 100,
        jobs: 1,
        source: 'smtp',
      },
      {
        ...base,
        type: 'attempt',
        domain: 'example.test',
        attempt: 1,
        hostErrors: [{ hostname: 'mx1.example.test', address: '127.0.0.2', reply: refused }],
        results: recipients.map((address) => ({ address, accepted: false, reply: refused })),
        durationMs: 3,
      },
      ...deferrals(1),
      // VERP: the first transaction went through mx2; the second found no connection to mx3.
      {
        ...base,
        type: 'attempt',
        domain: 'example.test',
        attempt: 2,
        host: { hostname: 'mx2.example.test', address: '127.0.0.4', port: 25, tls: true },
        hostErrors: [{ hostname: 'mx3.example.test', address: '127.0.0.3', reply: refused }],
        results: [
          { address: 'a@example.test', accepted: false, reply: reply(450, 'try later', '4.2.0') },
          { address: 'b@example.test', accepted: false, reply: refused },
        ],
        durationMs: 4,
      },
      ...deferrals(2).map((e, i) =>
        i === 0 ? { ...e, reply: { ...reply(450, 'try later', '4.2.0'), host: 'mx2.example.test' } } : e,
      ),
    ]);
    s.start();
    const rows = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(
      rows.map((r) => [r.type, r.attempt, r.recipient, r.state, r.code, r.mx_host, r.mx_ip, r.tls]),
      [
        ['attempt', '1', 'a@example.test', 'unreached', '451', 'mx1.example.test', '127.0.0.2', ''],
        ['attempt', '1', 'b@example.test', 'unreached', '451', 'mx1.example.test', '127.0.0.2', ''],
        ['deferred', '1', 'a@example.test', 'deferred', '451', 'mx1.example.test', '127.0.0.2', ''],
        ['deferred', '1', 'b@example.test', 'deferred', '451', 'mx1.example.test', '127.0.0.2', ''],
        ['attempt', '2', 'a@example.test', 'refused', '450', 'mx2.example.test', '127.0.0.4', 'yes'],
        ['attempt', '2', 'b@example.test', 'unreached', '451', 'mx3.example.test', '127.0.0.3', ''],
        ['deferred', '2', 'a@example.test', 'deferred', '450', 'mx2.example.test', '127.0.0.4', 'yes'],
        ['deferred', '2', 'b@example.test', 'deferred', '451', 'mx3.example.test', '127.0.0.3', ''],
      ],
    );
    assert.equal(rows[0]!.reply, refused.text);
    assert.ok(
      rows.every((r) => r.sender === '<>'),
      'the null sender is <>',
    );
  });

  it('resumes after a stop with no gap and no duplicate', async () => {
    const s = await setup();
    const batch1 = Array.from({ length: 40 }, (_, i) => messageEvents(`a${i}`, DAY1 + i)).flat();
    const batch2 = Array.from({ length: 40 }, (_, i) => messageEvents(`b${i}`, DAY1 + 100 + i)).flat();
    await s.emit(batch1);
    s.start();
    await waitForRows(s.directory, 1);
    await s.stopAll(); // mid-stream: wherever the log was
    const stoppedAt = (await rowsIn(s.directory)).length;
    await s.emit(batch2);
    s.start();
    const rows = await waitForRows(s.directory, 80 * 4);
    await s.stopAll();
    assert.equal(rows.length, 80 * 4, `stopped after ${stoppedAt} records, then resumed`);
    const keys = rows.map((r) => `${r.stream_id} ${r.type} ${r.recipient}`);
    assert.equal(new Set(keys).size, keys.length, 'no record twice');
    assert.deepEqual(
      [...new Set(rows.map((r) => r.message_id))],
      [...batch1, ...batch2].filter((e) => e.type === 'accepted').map((e) => e.messageId),
    );
  });

  it('after a crash between the write and the cursor save, a partial last entry is cut and written once', async () => {
    const s = await setup();
    await s.emit([...messageEvents('c1', DAY1), ...messageEvents('c2', DAY1 + 1)]);
    s.start();
    const full = await waitForRows(s.directory, 8);
    await s.stopAll();
    // The crash: the cursor still at c1's accepted entry, and the file cut after the first of c2's
    // two attempt records (a torn batch that ended on a record boundary).
    const c1Accepted = (await client.xrange(s.streamKey, '-', '+', 'COUNT', 1))[0]![0];
    await client.set(`${s.name}:cursor:accounting:test`, c1Accepted);
    const path = join(s.directory, fileName('2026-03-01', 'csv'));
    const text = await readFile(path, 'utf8');
    const firstC2 = text.indexOf(',c2,');
    const cutAt = text.indexOf('\r\n', firstC2) + 2;
    await truncate(path, Buffer.byteLength(text.slice(0, cutAt)));
    s.start();
    const rows = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(rows, full, 'the same records, each once');
    assert.ok(s.logLines.some((l) => /cut \d+ bytes written after the saved cursor/.test(String(l.msg))));
  });

  it('keeps the file when Redis comes back without the cursor or the stream: the new stream is appended', async () => {
    const s = await setup();
    await s.emit([...messageEvents('w1', DAY1), ...messageEvents('w2', DAY1 + 1)]);
    s.start();
    const full = await waitForRows(s.directory, 8);
    await s.stopAll();
    // A wiped (or failed-over) Redis: no cursor, no stream; the next events make a new stream.
    await client.del(`${s.name}:cursor:accounting:test`, s.streamKey);
    await s.emit(messageEvents('w3', DAY1 + 2));
    s.start();
    const rows = await waitForRows(s.directory, 12);
    await s.stopAll();
    assert.deepEqual(rows.slice(0, 8), full, 'every fsynced record is still there');
    assert.deepEqual(
      rows.map((r) => r.message_id),
      ['w1', 'w1', 'w1', 'w1', 'w2', 'w2', 'w2', 'w2', 'w3', 'w3', 'w3', 'w3'],
    );
    assert.ok(!s.logLines.some((l) => /cut \d+ bytes/.test(String(l.msg))), 'nothing cut');
    assert.ok(s.logLines.some((l) => /is no longer in the stream/.test(String(l.msg))));
    assert.match(await s.registry.getSingleMetricAsString('herald_accounting_gaps_total'), /gaps_total 0/);
  });

  it('keeps a partial last entry whose stream entry Redis lost (AOF everysec), and logs it', async () => {
    const s = await setup();
    await s.emit([...messageEvents('l1', DAY1), ...messageEvents('l2', DAY1 + 1)]);
    s.start();
    const full = await waitForRows(s.directory, 8);
    await s.stopAll();
    // Redis restarted without its last second: the cursor back at l1's accepted entry, l2's
    // entries gone from the stream; the file holds l2's first attempt record only.
    const entries = await client.xrange(s.streamKey, '-', '+');
    await client.set(`${s.name}:cursor:accounting:test`, entries[0]![0]);
    await client.xdel(s.streamKey, ...entries.slice(4).map(([id]) => id));
    const path = join(s.directory, fileName('2026-03-01', 'csv'));
    const text = await readFile(path, 'utf8');
    const cutAt = text.indexOf('\r\n', text.indexOf(',l2,')) + 2;
    await truncate(path, Buffer.byteLength(text.slice(0, cutAt)));
    await s.emit(messageEvents('l3', DAY1 + 2));
    s.start();
    const rows = await waitForRows(s.directory, 9);
    await s.stopAll();
    assert.deepEqual(rows.slice(0, 5), full.slice(0, 5), 'the partial entry is kept as written');
    assert.deepEqual(
      rows.map((r) => r.message_id),
      ['l1', 'l1', 'l1', 'l1', 'l2', 'l3', 'l3', 'l3', 'l3'],
    );
    const kept = s.logLines.find((l) => /is no longer in the stream/.test(String(l.msg)));
    assert.ok(kept, 'the kept entry is logged');
    assert.equal(kept.id, full[4]!.stream_id);
    assert.match(String(kept.msg), /possibly only some of its recipients/);
  });

  it('without a cursor, a stream whose ids are not later than the file is skipped and counted as a gap', async () => {
    const s = await setup();
    await s.emit(messageEvents('s1', DAY1));
    s.start();
    await waitForRows(s.directory, 4);
    await s.stopAll();
    await client.del(`${s.name}:cursor:accounting:test`, s.streamKey);
    // A new stream from a clock behind the old one: ids before the file's last.
    for (const [i, event] of messageEvents('early', DAY1 + 1).entries())
      await client.xadd(s.streamKey, `1-${i + 1}`, 'event', JSON.stringify(event));
    await s.emit(messageEvents('s2', DAY1 + 2));
    s.start();
    const rows = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(
      [...new Set(rows.map((r) => r.message_id))],
      ['s1', 's2'],
      'the earlier ids are not written after later ones',
    );
    const stale = s.logLines.find((l) => /not later than the accounting file/.test(String(l.msg)));
    assert.ok(stale, 'an error says so');
    assert.equal(stale.level, 50);
    assert.match(await s.registry.getSingleMetricAsString('herald_accounting_gaps_total'), /gaps_total 1/);
  });

  it('cuts a torn last record before appending', async () => {
    const s = await setup();
    await s.emit(messageEvents('t1', DAY1));
    s.start();
    await waitForRows(s.directory, 4);
    await s.stopAll();
    const path = join(s.directory, fileName('2026-03-01', 'csv'));
    await appendFile(path, 'delivered,2026-03-01T12:00:00.000Z,99999999999999-0,x,acme,,"half a re');
    await s.emit(messageEvents('t2', DAY1 + 1));
    s.start();
    const rows = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(
      rows.map((r) => r.message_id),
      ['t1', 't1', 't1', 't1', 't2', 't2', 't2', 't2'],
    );
    assert.ok(s.logLines.some((l) => /cut a torn last record/.test(String(l.msg))));
  });

  it('rotates at UTC midnight by the event time: two files, each with its header', async () => {
    const s = await setup();
    await s.emit([...messageEvents('before', MIDNIGHT - 500), ...messageEvents('after', MIDNIGHT + 500)]);
    s.start();
    await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual((await readdir(s.directory)).sort(), [
      fileName('2026-03-01', 'csv'),
      fileName('2026-03-02', 'csv'),
    ]);
    const day1 = await readCsvRows(join(s.directory, fileName('2026-03-01', 'csv')));
    const day2 = await readCsvRows(join(s.directory, fileName('2026-03-02', 'csv')));
    assert.deepEqual(new Set(day1.map((r) => r.message_id)), new Set(['before']));
    assert.deepEqual(new Set(day2.map((r) => r.message_id)), new Set(['after']));
    assert.equal(day2[0]!.time, new Date(MIDNIGHT + 500).toISOString());
  });

  it('quotes a hostile reply (comma, quote, CRLF, a forged record) so it forges nothing', async () => {
    const s = await setup();
    const forged = 'delivered,2030-01-01T00:00:00.000Z,99999999999999-0,forged,acme';
    const hostile = `ok, "queued" as 1\r\n${forged}\nand a bare LF, done`;
    await s.emit(messageEvents('q1', DAY1, hostile));
    s.start();
    const rows = await waitForRows(s.directory, 4);
    await s.stopAll();
    assert.equal(rows.length, 4);
    const shown = hostile.replaceAll('\r', '\\u{d}').replaceAll('\n', '\\u{a}');
    assert.equal(rows[0]!.reply, shown, 'the attempt record keeps the reply, line breaks shown');
    assert.equal(rows[2]!.reply, shown);
    assert.ok(!rows.some((r) => r.message_id === 'forged'));
    const path = join(s.directory, fileName('2026-03-01', 'csv'));
    assert.equal((await readFile(path, 'utf8')).split('\r\n').length, 6, 'one line per record');
    // A restart reads the file's tail: the forged id inside the quotes must not move it forward.
    await s.emit(messageEvents('q2', DAY1 + 1));
    s.start();
    const again = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(
      again.map((r) => r.message_id),
      ['q1', 'q1', 'q1', 'q1', 'q2', 'q2', 'q2', 'q2'],
    );
  });

  it('writes no raw control, separator or bidi character, and no cell a spreadsheet runs as a formula', async () => {
    const hostile =
      '=HYPERLINK("http://x.test")\u001b[31m\u0007\u000b\u009b2J\u202eevil\u2028\u200b\ufeff\tend';
    const events = messageEvents('h1', DAY1, hostile);
    const attempt = events[1] as Extract<HeraldEvent, { type: 'attempt' }>;
    attempt.host = { hostname: '@mx.example.test', address: '127.0.0.2', port: 25, tls: false };
    const raw =
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

    const csv = await setup();
    await csv.emit(events);
    csv.start();
    const rows = await waitForRows(csv.directory, 4);
    await csv.stopAll();
    const text = await readFile(join(csv.directory, fileName('2026-03-01', 'csv')), 'utf8');
    assert.doesNotMatch(text, raw, 'no raw control or invisible character in the CSV');
    assert.equal(text.split('\r\n').length, 6, 'one line per record');
    assert.equal(
      rows[0]!.reply,
      `'=HYPERLINK("http://x.test")\\u{1b}[31m\\u{7}\\u{b}\\u{9b}2J\\u{202e}evil\\u{2028}\\u{200b}\\u{feff}\tend`,
    );
    assert.equal(rows[0]!.mx_host, "'@mx.example.test", 'a host name is guarded too');
    assert.equal(rows[2]!.mx_host, "'@mx.example.test");
    assert.equal(rows[1]!.reply, 'no such user', 'an ordinary text is as it was');

    const jsonl = await setup('jsonl');
    await jsonl.emit(events);
    jsonl.start();
    const lines = await waitForRows(jsonl.directory, 4, 'jsonl');
    await jsonl.stopAll();
    const json = await readFile(join(jsonl.directory, fileName('2026-03-01', 'jsonl')), 'utf8');
    assert.doesNotMatch(
      json.replaceAll('\n', ''),
      raw,
      'no raw control or invisible character in JSON lines',
    );
    assert.equal(lines[0]!.reply, hostile, 'JSON lines keep the exact text');
    assert.equal(lines[0]!.mx_host, '@mx.example.test');
  });

  it('writes JSON lines with the same fields', async () => {
    const s = await setup('jsonl');
    await s.emit(messageEvents('j1', DAY1, 'line one\nline "two", end'));
    s.start();
    const rows = await waitForRows(s.directory, 4, 'jsonl');
    await s.stopAll();
    assert.deepEqual(await readdir(s.directory), [fileName('2026-03-01', 'jsonl')]);
    const text = await readFile(join(s.directory, fileName('2026-03-01', 'jsonl')), 'utf8');
    assert.equal(text.split('\n').length, 5, 'four lines and the final newline');
    assert.deepEqual(Object.keys(rows[0]!), [...ACCOUNTING_COLUMNS]);
    assert.equal(rows[2]!.type, 'delivered');
    assert.equal(rows[2]!.reply, 'line one\nline "two", end');
  });

  it('reports a gap when the stream was trimmed past the cursor, and writes only what is there', async () => {
    const s = await setup();
    await s.emit(messageEvents('g1', DAY1));
    s.start();
    await waitForRows(s.directory, 4);
    await s.stopAll();
    await s.emit(Array.from({ length: 30 }, (_, i) => messageEvents(`lost${i}`, DAY1 + 10 + i)).flat());
    await client.xtrim(s.streamKey, 'MAXLEN', 0);
    await s.emit(messageEvents('g2', DAY1 + 100));
    const status = await accountingStatus(client, s.name, s.streamKey, 'accounting:test');
    assert.equal(status.gap, true);
    s.start();
    const rows = await waitForRows(s.directory, 8);
    await s.stopAll();
    assert.deepEqual(
      [...new Set(rows.map((r) => r.message_id))],
      ['g1', 'g2'],
      'nothing written for the lost range',
    );
    const gap = s.logLines.find((l) => /were trimmed before they were written/.test(String(l.msg)));
    assert.ok(gap, 'an error names the range');
    assert.equal(gap.level, 50);
    assert.match(await s.registry.getSingleMetricAsString('herald_accounting_gaps_total'), /gaps_total 1/);
  });

  it('retries a directory it cannot write, without moving the cursor, then writes everything', async () => {
    const s = await setup();
    const blocked = join(s.directory, 'not-a-dir');
    await writeFile(blocked, 'a file where the directory should be');
    await s.emit(messageEvents('d1', DAY1));
    s.start(blocked);
    const deadline = Date.now() + WAIT_MS;
    while (!s.logLines.some((l) => /retrying in/.test(String(l.msg)))) {
      assert.ok(Date.now() < deadline, 'a failure is logged');
      await delay(POLL_MS);
    }
    assert.equal(await client.get(`${s.name}:cursor:accounting:test`), null, 'the cursor did not move');
    await rm(blocked);
    const rows = await waitForRows(blocked, 4);
    await s.stopAll();
    assert.equal(rows.length, 4);
    assert.match(
      await s.registry.getSingleMetricAsString('herald_accounting_failures_total'),
      /failures_total [1-9]/,
    );
  });
});

describe('the accounting config section', () => {
  it('is off when absent, and fills in csv and every terminal outcome and attempt', () => {
    assert.equal(parseConfig({}).accounting, undefined);
    assert.deepEqual(parseConfig({ accounting: { directory: '/var/log/herald' } }).accounting, {
      directory: '/var/log/herald',
      format: 'csv',
      records: ['attempt', 'delivered', 'bounced', 'expired', 'suppressed'],
    });
  });

  it('names the key of a bad value or an unknown key', () => {
    const problem = (accounting: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseConfig({ accounting } as never),
        (err: ConfigError) => pattern.test(err.message),
      );
    problem(
      { directory: '/x', records: ['delivered', 'opened'] },
      /accounting\.records\[1\]: expected one of attempt/,
    );
    problem(
      { directory: '/x', records: ['delivered', 'delivered'] },
      /accounting\.records: each record type may appear once/,
    );
    problem({ directory: '/x', format: 'xml' }, /accounting\.format: expected one of csv, jsonl/);
    problem({ directory: '/x', name: 'a b' }, /accounting\.name: expected a name of letters/);
    problem({ format: 'csv' }, /accounting\.directory/);
    problem({ directory: '/x', rotate: 'daily' }, /accounting.*rotate/);
  });
});
