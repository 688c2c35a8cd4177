/**
 * End to end: live reload of a real bounce-processor (`herald bounce-processor --config FILE` in a
 * child process, a private Redis). Before the reload it refuses a return path signed with a new
 * VERP secret and has no complaint address; the file gets the new secret (the old one moved to
 * verp_previous_secrets), a complaint address and a changed `bounce.listen`; `herald config reload
 * --pid --http` (SIGHUP) answers applied with `bounce.listen` as needing a restart, /readyz shows
 * the new config version, and on the SMTP session opened before the reload both secrets' return
 * paths and the complaint address are accepted. Then an invalid file by a plain SIGHUP: refused,
 * counted, and the running config still accepts the new secret.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newMessageId } from '@herald/delivery-core/queue';
import { encodeVerp, verpKeys } from '@herald/delivery-core/verp';
import { startRedis, trackChild, untrackChild } from '@herald/test-harness';
import { BOUNCE, userUnknown } from './lib/bounce-reports.js';
import { CLI_ENTRY, childArgs } from './lib/children.js';
import { deferrer } from './lib/cleanup.js';
import { runCli } from './lib/cli.js';
import { SmtpClient } from './lib/smtp-client.js';
import { waitUntil } from './lib/wait.js';

const E2E_DIR = dirname(fileURLToPath(import.meta.url));
const NEW_SECRET = 'the-rotated-verp-secret-0123456789';
const COMPLAINTS = 'fbl@bounces.herald.test';
/** The daemon's start line on stderr (apps/cli bounce-processor). */
const STARTED = /listening on ([\d.]+):(\d+) \(SMTP\), http:\/\/([\d.]+):(\d+)\/metrics/;
/** A hang guard for the child's start: a busy 2-core machine has needed 30 s to start the CLI. */
const START_TIMEOUT_MS = 90_000;

interface ReadyBody {
  config: {
    hash: string;
    reloads: number;
    failures: number;
    lastReload?: { ok: boolean; needsRestart: string[] };
  };
}

const configYaml = (
  redisUrl: string,
  over: { secret: string; previous?: string; complaints?: string; listen: string },
) =>
  `redis: { url: "${redisUrl}" }
events: { log_level: info }
bounce:
  listen: "${over.listen}"
  http_listen: "127.0.0.1:0"
  domain: "${BOUNCE.domain}"
  verp_secret: "${over.secret}"
${over.previous ? `  verp_previous_secrets: ["${over.previous}"]\n` : ''}${over.complaints ? `  complaint_address: "${over.complaints}"\n` : ''}`;

const returnPath = (secret: string, recipient: string) =>
  encodeVerp(
    { tenant: 'shop', messageId: newMessageId(), recipient, now: Date.now() },
    verpKeys(secret, []),
    BOUNCE.domain,
  );

function startDaemon(configPath: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...childArgs(CLI_ENTRY), 'bounce-processor', '--config', configPath],
    { cwd: E2E_DIR, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } },
  );
  trackChild(child, 'herald bounce-processor (e2e child)');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString()).slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<{ smtp: { host: string; port: number }; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not started in time: ${stderr}`)), START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = STARTED.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ smtp: { host: m[1]!, port: Number(m[2]) }, http: `http://${m[3]}:${m[4]}` });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before listening: ${stderr}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    if (child.pid !== undefined) untrackChild(child.pid);
  };
  return { pid: child.pid!, started, stop, output: () => stdout };
}

/** The kept session's idle bound: longer than the reload CLI's start on a loaded machine. */
const SESSION_IDLE_MS = 150_000;

describe('bounce-processor live reload', () => {
  it('SIGHUP takes a rotated VERP secret and a complaint address without dropping a session; an invalid file keeps the running config', {
    timeout: 180_000,
  }, async (t) => {
    const defer = deferrer(t);
    const redis = await startRedis();
    defer(() => redis.stop());
    const dir = await mkdtemp(join(tmpdir(), 'herald-bp-reload-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'herald.yaml');
    await writeFile(configPath, configYaml(redis.url, { secret: BOUNCE.verp_secret, listen: '127.0.0.1:0' }));

    const daemon = startDaemon(configPath);
    defer(() => daemon.stop());
    const { smtp, http } = await daemon.started;
    const ready = async () => (await (await fetch(`${http}/readyz`)).json()) as ReadyBody;
    const before = await ready();
    assert.equal(before.config.reloads, 0);

    /** One transaction on a connection of its own (a refused one leaves nothing behind). */
    const once = async (to: string, body: string) => {
      const c = await SmtpClient.connect(smtp);
      try {
        return await c.send({ from: '', to: [to] }, body);
      } finally {
        c.close();
      }
    };
    // The session that stays open across the reload (idle while the CLI starts: on a busy machine
    // that takes longer than the client's default idle timeout).
    const client = await SmtpClient.connect({ ...smtp, idleTimeoutMs: SESSION_IDLE_MS });
    defer(async () => client.close());
    const rotated = returnPath(NEW_SECRET, 'ann@dest.test');
    const first = await client.send(
      { from: '', to: [returnPath(BOUNCE.verp_secret, 'bob@dest.test')] },
      userUnknown('bob@dest.test'),
    );
    assert.equal(first.code, 250, first.response);
    const refused = await once(rotated, userUnknown('ann@dest.test'));
    assert.equal(refused.code, 550, 'a return path of a secret the processor does not know yet');
    assert.match(refused.response, /forged|unknown-key/);
    assert.equal((await once(COMPLAINTS, 'x')).code, 550, 'no complaint address yet');

    await writeFile(
      configPath,
      configYaml(redis.url, {
        secret: NEW_SECRET,
        previous: BOUNCE.verp_secret,
        complaints: COMPLAINTS,
        listen: '127.0.0.1:2601',
      }),
    );
    const reload = await runCli(['config', 'reload', '--pid', String(daemon.pid), '--http', http, '--json']);
    assert.equal(reload.code, 0, reload.stderr);
    const outcome = JSON.parse(reload.stdout) as ReadyBody['config'];
    assert.equal(outcome.lastReload?.ok, true);
    assert.deepEqual(outcome.lastReload?.needsRestart, ['bounce.listen']);
    const after = await ready();
    assert.equal(after.config.reloads, 1);
    assert.notEqual(after.config.hash, before.config.hash);
    assert.match(
      await (await fetch(`${http}/metrics`)).text(),
      new RegExp(`herald_config_info\\{hash="${after.config.hash}"\\} 1`),
    );

    // The session opened before the reload: the new secret, the previous one, the complaint address.
    const taken = await client.send({ from: '', to: [rotated] }, userUnknown('ann@dest.test'));
    assert.equal(taken.code, 250, taken.response);
    const old = returnPath(BOUNCE.verp_secret, 'dan@dest.test');
    assert.equal((await client.send({ from: '', to: [old] }, userUnknown('dan@dest.test'))).code, 250);
    const complaint = await client.send(
      { from: '', to: [COMPLAINTS] },
      'Subject: not a report\r\n\r\nhello\r\n',
    );
    assert.equal(complaint.code, 250, complaint.response);

    // An invalid file (a secret too short): refused, counted; the running config stays.
    await writeFile(configPath, configYaml(redis.url, { secret: 'tiny-zq7', listen: '127.0.0.1:0' }));
    process.kill(daemon.pid, 'SIGHUP');
    const failed = await waitUntil('the refused reload on /readyz', async () => {
      const body = await ready();
      return body.config.failures === 1 ? body : undefined;
    });
    assert.equal(failed.config.hash, after.config.hash);
    assert.doesNotMatch(daemon.output(), /tiny-zq7/, 'the log never quotes the secret');
    const still = await client.send(
      { from: '', to: [returnPath(NEW_SECRET, 'cy@dest.test')] },
      userUnknown('cy@dest.test'),
    );
    assert.equal(still.code, 250, still.response);
  });
});
