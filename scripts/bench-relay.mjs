#!/usr/bin/env node
/**
 * Starts a Herald relay for an external load generator (peer-bench's run.sh --target): a private
 * redis-server (AOF, appendfsync everysec — always with --durability strict — fresh folder) and
 * the relay as a child process with trusted_networks 127.0.0.1/32, route '*' -> 127.0.0.1:<sink port> without TLS, log level warn.
 * Runs until SIGINT/SIGTERM or --max-seconds, then writes Redis `INFO commandstats` to the work
 * folder, stops the relay (SIGTERM; a --cpu-prof profile is written then) and Redis, by PID.
 *
 *   node scripts/bench-relay.mjs [--listen 127.0.0.1:2525] [--sink-port 2626] [--cpu-prof]
 *                                [--max-seconds 3600] [--workdir DIR] [--split-roles]
 *                                [--durability fast|strict] [--from-source] [--node-flag F]...
 *                                [--threads N] [--warmup N]
 *
 * --warmup N sends N messages (2,048 B, 20 sessions) through the relay to a counting sink of its
 * own on the sink port before it says ready, then closes that sink: the load that follows meets a
 * relay whose code is compiled and whose pools are sized, as a relay that has run a while is
 * (a cold relay's first 20,000 messages run ≈ 15 % slower). Report which one you measured.
 *
 * --split-roles runs two relay processes on the same config: roles smtp,http and roles worker
 * (submission and delivery on separate cores). --durability strict sets the relay's
 * redis.durability: strict (each 250 after the write is fsynced: Redis runs appendfsync always).
 *
 * The relay runs from the build, as `npm start` runs it (the build is brought up to date first);
 * --from-source runs it from the TypeScript sources through tsx instead (its loader and keepNames
 * wrappers cost CPU: figures from sources are not the product's). Loopback only.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRedisServer, redisInstallHint } from '../packages/find-redis/index.mjs';
import { ensureBuilt, ensureInstalled } from './ensure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RELAY_CHILD_SOURCE = join(ROOT, 'apps/cli/src/bench/relay-child.ts');
const RELAY_CHILD_BUILT = join(ROOT, 'apps/cli/dist/bench/relay-child.js');
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
const STOP_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_SECONDS = 3600;
const WARMUP_SESSIONS = 20;
const WARMUP_BODY_BYTES = 2048;
const WARMUP_TIMEOUT_MS = 300_000;

function parseArgs(argv) {
  const opts = {
    listen: '127.0.0.1:2525',
    sinkPort: 2626,
    cpuProf: false,
    maxSeconds: DEFAULT_MAX_SECONDS,
    workdir: '',
    durability: 'fast',
    nodeFlags: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--listen') opts.listen = argv[++i];
    else if (a === '--sink-port') opts.sinkPort = Number(argv[++i]);
    else if (a === '--cpu-prof') opts.cpuProf = true;
    else if (a === '--split-roles') opts.splitRoles = true;
    else if (a === '--max-seconds') opts.maxSeconds = Number(argv[++i]);
    else if (a === '--workdir') opts.workdir = resolve(argv[++i]);
    else if (a === '--durability') opts.durability = argv[++i];
    else if (a === '--from-source') opts.fromSource = true;
    else if (a === '--node-flag') opts.nodeFlags.push(argv[++i]);
    else if (a === '--threads') opts.threads = Number(argv[++i]);
    else if (a === '--warmup') opts.warmup = Number(argv[++i]);
    else {
      process.stderr.write(`bench-relay: unknown option ${a}\n`);
      process.exit(2);
    }
  }
  if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(opts.listen)) throw new Error('--listen must be 127.x.y.z:PORT');
  if (!['fast', 'strict'].includes(opts.durability)) throw new Error('--durability must be fast or strict');
  if (opts.warmup !== undefined && !(Number.isInteger(opts.warmup) && opts.warmup >= 0))
    throw new Error('--warmup must be a whole number of messages');
  return opts;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Sends `count` messages through the relay to a sink of our own on the sink port, then closes it. */
async function warmUp(count, listen, sinkPort) {
  const { startCountingSink } = await import('../apps/cli/dist/bench/sink.js');
  const { runLoad } = await import('../apps/cli/dist/bench/load.js');
  const [host, port] = listen.split(':');
  const sink = await startCountingSink(sinkPort);
  const deadline = Date.now() + WARMUP_TIMEOUT_MS;
  const abort = new AbortController();
  const stats = { accepted: 0, errors: 0, started: 0, connects: 0, errorSamples: [] };
  const started = Date.now();
  try {
    await runLoad(
      {
        host,
        port: Number(port),
        messages: count,
        concurrency: WARMUP_SESSIONS,
        sizeBytes: WARMUP_BODY_BYTES,
        recipients: 1,
        deadline,
        signal: abort.signal,
      },
      stats,
    );
    const all = await sink.waitFor(stats.accepted, deadline, abort.signal);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `bench-relay: warm-up ${stats.accepted}/${count} accepted, ${sink.count} delivered in ${seconds.toFixed(1)} s` +
        `${stats.errors ? `, ${stats.errors} errors (${stats.errorSamples.join('; ')})` : ''}${all ? '' : ' (not all delivered)'}\n`,
    );
  } finally {
    abort.abort();
    await sink.close();
  }
}

/** Sends raw RESP commands and resolves with the reply text (bounded by a timeout). */
function redisCommand(port, command) {
  return new Promise((res) => {
    let out = '';
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      res(out);
    };
    const timer = setTimeout(done, 2000);
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d) => {
      out += d.toString();
      if (out.startsWith('+') || (out.startsWith('$') && out.endsWith('\r\n\r\n'))) done();
    });
    sock.on('error', done);
  });
}

function getStatus(port, path) {
  return new Promise((res) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (r) => {
      r.resume();
      res(r.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(0));
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check, what) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${READY_TIMEOUT_MS} ms`);
    await delay(POLL_MS);
  }
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    child.kill('SIGTERM');
  });
}

const opts = parseArgs(process.argv.slice(2));
ensureInstalled();
if (!opts.fromSource) ensureBuilt();
const work = opts.workdir || mkdtempSync(join(tmpdir(), 'herald-bench-relay-'));
mkdirSync(join(work, 'redis'), { recursive: true });
const redisPort = await freePort();
const httpPort = await freePort();
const children = [];
let stopping;
async function stopAll(reason) {
  stopping ??= (async () => {
    process.stderr.write(`bench-relay: stopping (${reason})\n`);
    const stats = await redisCommand(redisPort, 'INFO commandstats');
    writeFileSync(join(work, 'redis-commandstats.txt'), stats);
    for (const child of [...children].reverse()) await stopChild(child);
    process.stderr.write(`bench-relay: stopped; logs, config and profiles in ${work}\n`);
  })();
  return stopping;
}
process.on('SIGINT', () => stopAll('SIGINT').then(() => process.exit(0)));
process.on('SIGTERM', () => stopAll('SIGTERM').then(() => process.exit(0)));

try {
  const redisLog = openSync(join(work, 'redis.log'), 'a');
  const redisBinary = findRedisServer();
  if (!redisBinary) throw new Error(redisInstallHint());
  const redis = spawn(
    redisBinary,
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      opts.durability === 'strict' ? 'always' : 'everysec',
      '--dir',
      join(work, 'redis'),
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', redisLog, redisLog] },
  );
  children.push(redis);
  await waitUntil(async () => (await redisCommand(redisPort, 'PING')).startsWith('+PONG'), 'redis-server');

  const config = {
    redis: { url: `redis://127.0.0.1:${redisPort}`, prefix: 'herald', durability: opts.durability },
    smtp: { listen: opts.listen, hostname: 'relay.bench.herald.test', trusted_networks: ['127.0.0.1/32'] },
    http: { listen: `127.0.0.1:${httpPort}` },
    routes: [{ match: '*', via: `127.0.0.1:${opts.sinkPort}`, tls: 'none' }],
    events: { log_level: 'warn' },
    ...(opts.threads === undefined ? {} : { delivery: { threads: opts.threads } }),
  };
  const configPath = join(work, 'relay.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const prof = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${work}`] : [];
  const env = { ...process.env };
  delete env.REDIS_URL;
  const startRelay = (roles, logName) => {
    const log = openSync(join(work, logName), 'a');
    const child = spawn(
      process.execPath,
      [
        // The relay's young generation (apps/relay/src/heap.ts RELAY_NODE_FLAGS); a later
        // --node-flag --max-semi-space-size wins.
        '--max-semi-space-size=32',
        ...prof,
        ...opts.nodeFlags,
        ...(opts.fromSource
          ? ['--conditions=herald-source', '--import', 'tsx', RELAY_CHILD_SOURCE]
          : [RELAY_CHILD_BUILT]),
        configPath,
        ...(roles ? [roles] : []),
      ],
      { cwd: ROOT, stdio: ['ignore', log, log], env },
    );
    children.push(child);
    child.once('exit', (code, signal) => {
      if (!stopping)
        stopAll(`relay ${child.pid} exited (code ${code}, signal ${signal})`).then(() => process.exit(1));
    });
    return child;
  };
  const relay = startRelay(opts.splitRoles ? 'smtp,http' : undefined, 'relay.log');
  const worker = opts.splitRoles ? startRelay('worker', 'relay-worker.log') : undefined;
  await waitUntil(async () => {
    if (stopping) throw new Error(`relay exited; see the logs in ${work}`);
    return (await getStatus(httpPort, '/readyz')) === 200;
  }, 'relay');
  if (opts.warmup) await warmUp(opts.warmup, opts.listen, opts.sinkPort);
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      warmup: opts.warmup ?? 0,
      smtp: opts.listen,
      sink: `127.0.0.1:${opts.sinkPort}`,
      http: `127.0.0.1:${httpPort}`,
      redis: config.redis.url,
      durability: opts.durability,
      relay_pid: relay.pid,
      worker_pid: worker?.pid ?? null,
      redis_pid: redis.pid,
      workdir: work,
    })}\n`,
  );
  setTimeout(
    () => stopAll('--max-seconds reached').then(() => process.exit(0)),
    opts.maxSeconds * 1000,
  ).unref?.();
  // Keep the process alive until a signal or the timer.
  setInterval(() => {}, 1 << 30);
} catch (err) {
  process.stderr.write(`bench-relay: ${err.message}\n`);
  await stopAll('start failed');
  process.exit(1);
}
