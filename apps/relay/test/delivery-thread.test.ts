/**
 * The relay's delivery worker threads, on real parts (a private Redis, an SMTP sink, the relay's
 * own SMTP and HTTP listeners): a message submitted over SMTP is delivered by a worker thread,
 * the main thread's listeners and /metrics see each outcome once, delivery.threads 0 delivers on
 * the main thread, a dead thread is replaced, and stop() leaves nothing running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultConfig, type HeraldConfigInput, type HeraldEvent, readEvents } from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import {
  type RedisHandle,
  type SmtpSinkHandle,
  startRedis,
  startSmtpSink,
  trackChild,
  untrackChild,
} from '@herald/test-harness';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { createRelay, type Relay } from '../src/index.js';
import { RestartBudget } from '../src/thread-host.js';

const WAIT_MS = 15_000;
const POLL_MS = 25;
/** The child's relay start and graceful stop, with the tsx loader in both threads. */
const CHILD_EXIT_MS = 30_000;
const SENDER = 'sender@origin.test';
const HERE = dirname(fileURLToPath(import.meta.url));

let redis: RedisHandle;
let sink: SmtpSinkHandle;

before(async () => {
  redis = await startRedis();
  sink = await startSmtpSink();
});
after(async () => {
  await sink?.close();
  await redis?.stop();
});

/** A relay config on the shared parts; each test gets its own key prefix. */
function relayConfig(prefix: string, threads: number): HeraldConfigInput {
  return {
    redis: { url: redis.url, prefix },
    smtp: { listen: '127.0.0.1:0', hostname: 'relay.herald.test', trusted_networks: ['127.0.0.1/32'] },
    http: { listen: '127.0.0.1:0' },
    routes: [{ match: '*', via: sink.address, tls: 'none' }],
    delivery: { threads },
    events: { log_level: 'silent' },
  };
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Submits one message over SMTP and returns the relay's queue id from "250 ... queued as <id>". */
async function submit(port: number, to: string): Promise<string> {
  const conn = new SMTPConnection({ host: '127.0.0.1', port, name: 'client.herald.test', ignoreTLS: true });
  try {
    await new Promise<void>((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => resolve());
    });
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
      conn.send(
        { from: SENDER, to: [to] },
        `Subject: thread test\r\nTo: <${to}>\r\n\r\nhello\r\n`,
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    const id = /queued as (\S+)/.exec(info.response)?.[1];
    assert.ok(id, `a queue id in ${info.response}`);
    return id;
  } finally {
    conn.quit();
  }
}

async function getText(address: { host: string; port: number }, path: string): Promise<string> {
  const res = await fetch(`http://${address.host}:${address.port}${path}`);
  assert.equal(res.status, 200);
  return res.text();
}

/**
 * Starts a relay, submits one message, waits for its delivery, and checks that the main thread's
 * listener, the Redis stream and /metrics each hold exactly one `delivered` for it.
 */
async function deliverOne(relay: Relay, prefix: string, to: string): Promise<void> {
  const seen: HeraldEvent[] = [];
  relay.herald.events.on((event) => seen.push(event));
  const addresses = await relay.start();
  assert.ok(addresses.smtp && addresses.http);
  const before = sink.messages.length;
  const id = await submit(addresses.smtp.port, to);

  const delivered = (events: HeraldEvent[]) =>
    events.filter((e) => e.type === 'delivered' && e.messageId === id);
  await waitUntil('the delivered event on the main thread', () => delivered(seen).length > 0);
  await waitUntil('an idle queue', async () => {
    const { totals } = await relay.herald.queueStats({ maxJobs: 0 });
    return totals.ready + totals.inFlight + totals.scheduled === 0;
  });
  assert.equal(sink.messages.length, before + 1, 'the sink received the message once');
  assert.deepEqual(sink.messages.at(-1)?.to, [to]);
  assert.equal(delivered(seen).length, 1, 'the main thread saw one delivered event');
  const stream = await readEvents(redis.client(), queueKeys(prefix).events);
  assert.equal(delivered(stream).length, 1, 'the stream holds one delivered event');

  const metrics = await getText(addresses.http, '/metrics');
  assert.match(metrics, /^herald_messages_accepted_total\{source="smtp"\} 1$/m);
  assert.match(metrics, /^herald_messages_delivered_total 1$/m);
}

describe('delivery worker threads', () => {
  it('with delivery.threads 1 a worker thread delivers, and the main thread sees each event once', async (t) => {
    const relay = await createRelay(defaultConfig(relayConfig('threads-one', 1)));
    t.after(() => relay.stop());
    await deliverOne(relay, 'threads-one', 'one@example.test');
    const [thread] = relay.deliveryThreads;
    assert.equal(relay.deliveryThreads.length, 1);
    await relay.stop();
    assert.equal(thread?.threadId, -1, 'the thread has exited');
    assert.equal(relay.deliveryThreads.length, 0);
  });

  it('with delivery.threads 0 the main thread delivers', async (t) => {
    const relay = await createRelay(defaultConfig(relayConfig('threads-zero', 0)));
    t.after(() => relay.stop());
    await deliverOne(relay, 'threads-zero', 'zero@example.test');
    assert.equal(relay.deliveryThreads.length, 0);
  });

  it('replaces a delivery thread that dies, and delivery goes on', async (t) => {
    const relay = await createRelay(defaultConfig(relayConfig('threads-restart', 1)));
    t.after(() => relay.stop());
    const addresses = await relay.start();
    const [first] = relay.deliveryThreads;
    assert.ok(first && addresses.smtp);
    await first.terminate();
    await waitUntil('a replacement thread', () => relay.deliveryThreads.some((w) => w !== first));

    const before = sink.messages.length;
    await submit(addresses.smtp.port, 'restart@example.test');
    await waitUntil('the delivery by the new thread', () => sink.messages.length > before);
    assert.deepEqual(sink.messages.at(-1)?.to, ['restart@example.test']);
  });

  it('a stopped relay leaves nothing running: its process exits on its own (started with V8 flags an operator tunes, which its threads must not refuse)', async (t) => {
    const config = JSON.stringify(relayConfig('threads-exit', 1));
    const child = spawn(
      process.execPath,
      [
        '--max-old-space-size=512',
        '--max-semi-space-size=32',
        '--conditions=herald-source',
        '--import',
        'tsx',
        join(HERE, 'fixtures', 'start-stop-relay.ts'),
        config,
      ],
      { cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    trackChild(child, 'start-stop-relay');
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_EXIT_MS);
    t.after(() => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (child.pid !== undefined) untrackChild(child.pid);
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n') && child.stdin.writable) child.stdin.end();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, null, `the child exited by itself (stderr: ${stderr})`);
    assert.equal(code, 0, stderr);
    const [first, second] = stdout.trim().split('\n');
    assert.equal(JSON.parse(first ?? '{}').threads, 1, 'the child ran one delivery thread');
    assert.equal(second, 'stopped');
  });
});

describe('RestartBudget', () => {
  it('allows 5 restarts per minute, then none until the oldest leaves the window', () => {
    let now = 0;
    const budget = new RestartBudget(5, 60_000, () => now);
    const taken = Array.from({ length: 6 }, () => {
      now += 1_000;
      return budget.take();
    });
    assert.deepEqual(taken, [true, true, true, true, true, false]);
    now = 60_999;
    assert.equal(budget.take(), false, 'the first restart (at 1 s) is still inside the window');
    now = 61_000;
    assert.equal(budget.take(), true, 'one slot freed once the first restart is a minute old');
    assert.equal(budget.take(), false);
  });
});
