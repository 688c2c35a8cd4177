/**
 * `herald relay` end to end through the npm bin (bin/herald.mjs re-executing the sources, even
 * when a build exists: HERALD_FROM_SOURCE=1): a private redis-server, a sink as the smarthost,
 * AUTH with a hash from `herald hash-password`, submission with `herald send` (STARTTLS to the
 * relay's self-signed cert), and a graceful stop on SIGTERM sent to the bin's PID.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RedisHandle, type SmtpSinkHandle, startRedis, startSmtpSink } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const BIN = fileURLToPath(new URL('../bin/herald.mjs', import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;
const PASSWORD = 'relay-test-password';

let dir: string;
let redis: RedisHandle;
let sink: SmtpSinkHandle;
let relay: ChildProcess | undefined;
let smtpPort: number;

async function hashPasswordViaCli(password: string): Promise<string> {
  const run = captureIo({ stdin: `${password}\n` });
  assert.equal(await main(['hash-password'], run.io), 0, run.stderr());
  return run.stdout().trim();
}

/** Resolves with the SMTP port from the relay's "herald relay started" log line. */
function waitForStart(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${stderr}`)), STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; smtp?: { port: number } };
      if (entry.msg !== 'herald relay started' || !entry.smtp) return;
      clearTimeout(timer);
      resolve(entry.smtp.port);
    });
  });
}

async function sendViaCli(args: string[]) {
  const run = captureIo();
  const code = await main(['send', '--server', `127.0.0.1:${smtpPort}`, ...args], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('herald relay (through bin/herald.mjs)', { timeout: TEST_TIMEOUT_MS }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-cli-relay-'));
    redis = await startRedis();
    sink = await startSmtpSink();
    const hash = await hashPasswordViaCli(PASSWORD);
    const config = {
      redis: { url: redis.url },
      smtp: {
        listen: '127.0.0.1:0',
        hostname: 'relay.herald.test',
        tls: { self_signed: true },
        users: [{ username: 'app', password_hash: hash }],
      },
      http: { listen: '127.0.0.1:0' },
      routes: [{ match: '*', via: sink.address, tls: 'none' }],
    };
    const file = join(dir, 'herald.json');
    writeFileSync(file, JSON.stringify(config));
    const env = { ...process.env, REDIS_URL: '', HERALD_FROM_SOURCE: '1' };
    // Own process group, so cleanup can reach the re-executed child too (kill -PGID).
    relay = spawn(process.execPath, [BIN, 'relay', '--config', file], { env, detached: true, stdio: 'pipe' });
    smtpPort = await waitForStart(relay);
  });

  after(async () => {
    if (relay?.pid !== undefined && relay.exitCode === null && relay.signalCode === null) {
      try {
        process.kill(-relay.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sink?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('herald send with STARTTLS and AUTH is queued by the relay and delivered to the route', async () => {
    const auth = ['--user', 'app', '--password', PASSWORD];
    const result = await sendViaCli([...auth, '--starttls', '--to', 'rcpt@example.org']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^250 /);
    const [message] = await sink.waitForMessages(1);
    assert.deepEqual(message?.to, ['rcpt@example.org']);
  });

  test('a wrong password fails at AUTH with the relay reply and exit 1', async () => {
    const result = await sendViaCli(['--user', 'app', '--password', 'wrong']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^herald: HERALD_SMTP_FAILED: send: 127\.0\.0\.1:\d+: AUTH \w+: 535 /);
  });

  test('a second relay on the same address exits 1 naming smtp.listen, with no error log line', async () => {
    const file = join(dir, 'second.json');
    const config = {
      redis: { url: redis.url },
      smtp: { listen: `127.0.0.1:${smtpPort}` },
      http: { listen: '127.0.0.1:0' },
    };
    writeFileSync(file, JSON.stringify(config));
    const env = { ...process.env, REDIS_URL: '', HERALD_FROM_SOURCE: '1' };
    const second = spawn(process.execPath, [BIN, 'relay', '--config', file], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    second.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `herald: HERALD_LISTEN_FAILED: cannot start the relay: smtp.listen: address 127.0.0.1:${smtpPort} already in use\n`,
    );
    assert.doesNotMatch(stdout, /"level":50|"stack"/, 'the failure is not logged as an error as well');
  });

  test('an HTTP address in use names http.listen', async () => {
    const file = join(dir, 'http-taken.json');
    const config = {
      redis: { url: redis.url },
      smtp: { listen: '127.0.0.1:0' },
      http: { listen: `127.0.0.1:${smtpPort}` },
    };
    writeFileSync(file, JSON.stringify(config));
    const run = captureIo({ env: { REDIS_URL: '' } });
    assert.equal(await main(['relay', '--config', file, '--roles', 'smtp,http'], run.io), 1);
    assert.equal(
      run.stderr(),
      `herald: HERALD_LISTEN_FAILED: cannot start the relay: http.listen: address 127.0.0.1:${smtpPort} already in use\n`,
    );
  });

  test('SIGTERM to the bin stops the relay gracefully with exit 0', async () => {
    const child = relay!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
