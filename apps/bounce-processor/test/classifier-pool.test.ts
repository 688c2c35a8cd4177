/**
 * The classifier pool on real worker threads: messages are read off the event loop, one thread
 * stalled on a message does not hold up another, a message over its time budget is answered as
 * unread (`undefined`) and its thread is replaced, a crashed thread likewise, and the pool loads
 * from the built files as well as from the sources. Misbehaviour comes from a stand-in thread
 * (fixtures/misbehaving-classifier-thread.ts), so no assertion depends on the machine's speed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type ClassifierPool, createClassifierPool } from '../src/classifier-pool.js';
import { CRASH_MARKER, STALL_MARKER } from './fixtures/misbehaving-classifier-thread.js';

const MISBEHAVING = new URL('./fixtures/misbehaving-classifier-thread.ts', import.meta.url);
const BUDGET_MS = 1_000;
const logger = pino({ level: 'silent' });
const DSN = [
  'Content-Type: message/delivery-status',
  '',
  'Final-Recipient: rfc822; gone@dest.test',
  'Action: failed',
  'Status: 5.1.1',
  'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
  '',
].join('\n');

async function withPool(
  t: { after(fn: () => Promise<void>): void },
  options: { threads?: number; budgetMs?: number; entry?: URL } = {},
): Promise<ClassifierPool> {
  const pool = createClassifierPool({ logger, entry: MISBEHAVING, budgetMs: BUDGET_MS, ...options });
  t.after(() => pool.stop());
  await pool.start();
  return pool;
}

describe('bounce classifier pool', () => {
  it('reads a message in a thread: report and quoted return paths', async (t) => {
    const pool = await withPool(t, { entry: undefined });
    const read = await pool.classify(Buffer.from(`${DSN}\nReturn-Path: <bounces+abc234@b.test>\n`));
    assert.equal(read.outcome, 'read');
    assert.equal(read.report.kind, 'dsn');
    assert.deepEqual(
      read.report.recipients.map((r) => [r.address, r.reason]),
      [['gone@dest.test', 'userunknown']],
    );
    assert.deepEqual(read.returnPaths, ['bounces+abc234@b.test']);
  });

  it('a message over its budget is unread and its thread replaced; the other thread keeps reading', async (t) => {
    const pool = await withPool(t, { threads: 2 });
    const before = [...pool.threadIds];
    const stalled = pool.classify(Buffer.from(`${STALL_MARKER}\n\nx`));
    // While one thread is stuck, the other reads, and this event loop runs.
    const other = await pool.classify(Buffer.from(DSN));
    assert.equal(other.outcome, 'read');
    let settled = false;
    void stalled.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the stalled message is still within its budget');
    const timedOut = await stalled;
    assert.equal(timedOut.outcome, 'timed-out');
    assert.equal(timedOut.report.kind, 'unknown');
    assert.deepEqual(
      timedOut.report.recipients.map((r) => r.reason),
      ['undefined'],
    );
    assert.equal(pool.threadIds.length, 2);
    assert.notDeepEqual([...pool.threadIds].sort(), before.sort(), 'the stuck thread was replaced');
    const after = await pool.classify(Buffer.from(DSN));
    assert.equal(after.outcome, 'read');
  });

  it('a thread that dies while reading gives an unread message and is replaced', async (t) => {
    const pool = await withPool(t, { threads: 1 });
    const crashed = await pool.classify(Buffer.from(`${CRASH_MARKER}\n\nx`));
    assert.equal(crashed.outcome, 'failed');
    const next = await pool.classify(Buffer.from(DSN));
    assert.equal(next.outcome, 'read');
  });

  it('messages queue for a busy thread and each gets its own budget', async (t) => {
    const pool = await withPool(t, { threads: 1 });
    const results = await Promise.all([
      pool.classify(Buffer.from(`${STALL_MARKER}\n\nx`)),
      pool.classify(Buffer.from(DSN)),
      pool.classify(Buffer.from(DSN)),
    ]);
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['timed-out', 'read', 'read'],
    );
  });

  it('stop rejects queued and running messages', async (t) => {
    const pool = await withPool(t, { threads: 1 });
    const running = assert.rejects(pool.classify(Buffer.from(`${STALL_MARKER}\n\nx`)), /stopping/);
    const queued = assert.rejects(pool.classify(Buffer.from(DSN)), /stopping/);
    await pool.stop();
    await running;
    await queued;
    await assert.rejects(pool.classify(Buffer.from(DSN)), /stopped/);
  });

  it("starts its threads under a process-wide V8 flag on Node's command line (as npm start runs it)", () => {
    // npm start, the Docker image and `npm run herald` give Node --max-semi-space-size=32; a
    // Worker given that flag in execArgv refuses to start, so the threads must not be handed it.
    const script = fileURLToPath(new URL('./fixtures/classify-from-dist.mjs', import.meta.url));
    const child = spawnSync(
      process.execPath,
      ['--max-semi-space-size=32', '--conditions=herald-source', '--import', 'tsx', script],
      { input: DSN, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), JSON.stringify(['read', 'userunknown']));
  });

  it('loads from the built files (dist), without tsx or source conditions', (t) => {
    const built = fileURLToPath(new URL('../dist/classifier-thread.js', import.meta.url));
    if (!existsSync(built)) {
      t.skip(`not built: ${built} (npm test builds first)`);
      return;
    }
    const script = fileURLToPath(new URL('./fixtures/classify-from-dist.mjs', import.meta.url));
    const child = spawnSync(process.execPath, [script], { input: DSN, encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), JSON.stringify(['read', 'userunknown']));
  });
});
