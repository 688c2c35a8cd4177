/**
 * The package as a user imports it: the README's runnable example runs with plain `node` (no
 * source condition, so `@herald/delivery-core` resolves to the built dist/ through package.json
 * exports) against a private redis-server and a real SMTP sink.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RedisHandle, type SmtpSinkHandle, startRedis, startSmtpSink } from '@herald/test-harness';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE_TIMEOUT_MS = 30_000;

let redis: RedisHandle;
let sink: SmtpSinkHandle;
before(async () => {
  redis = await startRedis();
  sink = await startSmtpSink({ host: '127.0.0.2' });
});
after(async () => {
  await sink.close();
  await redis.stop();
});

it('the package README example enqueues from code and delivers from the same process', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['examples/send-and-deliver.mjs'], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH, REDIS_URL: redis.url, SMARTHOST: sink.address },
    timeout: EXAMPLE_TIMEOUT_MS,
  });
  const [sent, outcome] = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(sent.accepted, ['user@example.net']);
  assert.equal(sent.rejected[0].address, 'not-an-address');
  assert.equal(sent.rejected[0].enhanced, '5.1.3');
  assert.equal(outcome.outcome, 'delivered');
  assert.equal(outcome.recipient, 'user@example.net');
  const received = sink.messages.at(-1);
  assert.ok(received);
  assert.deepEqual(received.to, ['user@example.net']);
  assert.match(received.raw.toString(), /^Subject: Hello from Herald/m);
  assert.match(received.raw.toString(), /Sent from code with @herald\/delivery-core\./);
});
