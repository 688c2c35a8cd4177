/**
 * The README's library example (the first ```js block under "## Library use") runs as written:
 * saved in the checkout and run with node (on the packages' sources, or their build with
 * HERALD_TEST_CHILDREN=dist as `npm test` runs it: lib/children.ts) against a private Redis (REDIS_URL, which the example
 * honours) and a private sink (the one substitution: the capture sink's 127.0.0.1:2526 becomes
 * the sink's address), it prints the queued line and exits 0 by itself; the message is delivered
 * to the sink or still in the queue, never lost.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createHerald } from '@herald/delivery-core';
import { startRedis, startSmtpSink, trackChild, untrackChild } from '@herald/test-harness';
import { scriptArgs } from './lib/children.js';
import { deferrer } from './lib/cleanup.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CAPTURE_SINK = '127.0.0.1:2526';

/** The code of the first ```js block after `heading` in README.md. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(block?.[1], `no js block under ${heading}`);
  return block[1];
}

describe("the README's library example", () => {
  it('runs as written against a private Redis and sink, prints the queued line and exits', {
    timeout: 120_000,
  }, async (t) => {
    const defer = deferrer(t);
    const redis = await startRedis();
    defer(() => redis.stop());
    const sink = await startSmtpSink({ host: '127.0.0.1' });
    defer(() => sink.close());
    const code = readmeBlock('## Library use');
    assert.ok(code.includes(CAPTURE_SINK) && code.includes('await herald.close()'), code);
    // In the checkout, so `@herald/delivery-core` resolves as it does for a user's example.mjs.
    const file = join(ROOT, `.readme-example-${process.pid}.mjs`);
    await writeFile(file, code.replace(CAPTURE_SINK, `${sink.host}:${sink.port}`));
    defer(() => rm(file, { force: true }));

    const child = spawn(process.execPath, scriptArgs(file), {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child, 'readme example');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (child.pid !== undefined) untrackChild(child.pid);
    assert.equal(exit, 0, stderr);
    assert.match(stdout, /^queued [0-9a-z]+ for user@example\.net$/m);

    const herald = await createHerald({ redis: { url: redis.url }, events: { log_level: 'silent' } });
    defer(() => herald.close());
    const { totals } = await herald.queueStats();
    const queued = totals.ready + totals.scheduled + totals.inFlight;
    const delivered = sink.messages.filter((m) => m.to.includes('user@example.net')).length;
    assert.equal(queued + delivered, 1, `queued ${queued}, delivered ${delivered}: never lost`);
  });
});
