/**
 * The relay under test as a child process: writes its config (trusted 127.0.0.1/32, route '*' to
 * the sink without TLS, log level warn, ephemeral SMTP and HTTP ports; with `api`, the HTTP API on
 * an ephemeral port with a per-key rate far above any bench rate), spawns relay-child.ts,
 * waits for its IPC 'started' message and then for GET /readyz → 200.
 * Owns: the child (stopped by PID: SIGTERM, SIGKILL after RELAY_STOP_TIMEOUT_MS) and its log file.
 * Guarantees: start fails with the log tail when the child exits or is not ready in time; stop is
 * idempotent and always leaves no process behind.
 * Needs injected: the Redis URL, the sink port, a work folder, a deadline and an AbortSignal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELAY_NODE_FLAGS } from '@herald/relay';

const RELAY_START_TIMEOUT_MS = 60_000;
const RELAY_STOP_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 100;
const READY_REQUEST_TIMEOUT_MS = 2_000;
const LOG_TAIL_CHARS = 3_000;
const HTTP_OK = 200;
const LOOPBACK = '127.0.0.1';
/**
 * The API's per-key rate for the bench: still checked on every request (one GCRA script in Redis,
 * as in production), only set far above what one machine can send, so it never answers 429.
 */
export const BENCH_API_RATE_LIMIT = '1000000/s';
export const BENCH_API_RATE_BURST = 1_000_000;
/** Every bench connection comes from 127.0.0.1: the per-client cap must not be what is measured. */
export const BENCH_API_MAX_CONNECTIONS = 10_000;
/** smtp.max_message_size's default; a bench message larger than this raises it. */
const DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
/** Room above the bench's body for its own headers and the relay's trace headers. */
const MESSAGE_HEADER_ROOM_BYTES = 64 * 1024;

export interface RelayChild {
  readonly pid: number;
  readonly smtp: { host: string; port: number };
  readonly http: { host: string; port: number };
  /** The HTTP API (only when started with `api`). */
  readonly api: { host: string; port: number } | undefined;
  readonly configPath: string;
  readonly logPath: string;
  logTail(): string;
  stop(): Promise<void>;
}

export interface StartRelayOptions {
  redisUrl: string;
  redisPrefix: string;
  sinkPort: number;
  workDir: string;
  cpuProfDir?: string | undefined;
  /** Also serve the HTTP API (the `api` section). */
  api?: boolean;
  /** redis.durability (default fast). */
  durability?: 'fast' | 'strict';
  /** Body bytes of the bench's messages: above the default limit, smtp.max_message_size fits them. */
  sizeBytes?: number;
  /** queue.shards (default 1: no `queue` section). */
  shards?: number;
  /** A `telemetry` section: spans to this OTLP/HTTP endpoint at this sample ratio. */
  telemetry?: { endpoint: string; sampleRatio: number } | undefined;
  /** A `behaviour` section (BENCH_BEHAVIOUR: every rule judged, none ever trips). */
  behaviour?: boolean;
  signal: AbortSignal;
}

/**
 * `--behaviour`: every rule on with thresholds the bench never reaches, so each message pays the
 * counting (enqueue MULTI, the message → account record) and each pass the judging, nothing is held.
 */
export const BENCH_BEHAVIOUR = {
  rules: {
    volume_spike: { window: '5m', baseline: '24h', max_count: 1_000_000_000 },
    domain_spread: { window: '10m', max_domains: 1_000_000 },
    bounce_spike: { window: '1h', rate: 1, min_recipients: 1, min_events: 1 },
    complaint_spike: { window: '1h', rate: 1, min_recipients: 1, min_events: 1 },
  },
} as const;

/** The config the bench runs the relay with (also what docs/benchmarks.md shows). */
export function benchRelayConfig(
  redisUrl: string,
  redisPrefix: string,
  sinkPort: number,
  api = false,
  durability: 'fast' | 'strict' = 'fast',
  sizeBytes = 0,
  shards = 1,
  telemetry?: { endpoint: string; sampleRatio: number },
  behaviour = false,
): Record<string, unknown> {
  const needed = sizeBytes + MESSAGE_HEADER_ROOM_BYTES;
  return {
    redis: { url: redisUrl, prefix: redisPrefix, durability },
    smtp: {
      listen: `${LOOPBACK}:0`,
      hostname: 'relay.bench.herald.test',
      trusted_networks: ['127.0.0.1/32'],
      ...(needed > DEFAULT_MAX_MESSAGE_BYTES ? { max_message_size: needed } : {}),
    },
    http: { listen: `${LOOPBACK}:0` },
    routes: [{ match: '*', via: `${LOOPBACK}:${sinkPort}`, tls: 'none' }],
    ...(shards > 1 ? { queue: { shards } } : {}),
    ...(behaviour ? { behaviour: BENCH_BEHAVIOUR } : {}),
    events: { log_level: 'warn' },
    ...(telemetry
      ? { telemetry: { otlp: { endpoint: telemetry.endpoint }, sample_ratio: telemetry.sampleRatio } }
      : {}),
    ...(api
      ? {
          api: {
            listen: `${LOOPBACK}:0`,
            rate_limit: BENCH_API_RATE_LIMIT,
            rate_burst: BENCH_API_RATE_BURST,
            max_connections: BENCH_API_MAX_CONNECTIONS,
            max_connections_per_client: BENCH_API_MAX_CONNECTIONS,
          },
        }
      : {}),
  };
}

/** node arguments that run relay-child from sources (tsx) or from a build (plain node). */
function childCommand(): string[] {
  const script = fileURLToPath(
    new URL(`./relay-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
  );
  if (!script.endsWith('.ts')) return [script];
  return ['--conditions=herald-source', '--import', import.meta.resolve('tsx'), script];
}

function getReadyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: LOOPBACK, port, path: '/readyz', timeout: READY_REQUEST_TIMEOUT_MS },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

export async function startRelayChild(options: StartRelayOptions): Promise<RelayChild> {
  const configPath = join(options.workDir, 'relay.json');
  const logPath = join(options.workDir, 'relay.log');
  writeFileSync(
    configPath,
    JSON.stringify(
      benchRelayConfig(
        options.redisUrl,
        options.redisPrefix,
        options.sinkPort,
        options.api,
        options.durability,
        options.sizeBytes,
        options.shards,
        options.telemetry,
        options.behaviour,
      ),
      null,
      2,
    ),
  );
  const logFd = openSync(logPath, 'a');
  const profArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const env = { ...process.env };
  delete env['REDIS_URL']; // the config file names the Redis to use
  const [first, ...rest] = childCommand();
  const child = spawn(process.execPath, [...RELAY_NODE_FLAGS, ...profArgs, first!, ...rest, configPath], {
    stdio: ['ignore', logFd, logFd, 'ipc'],
    env,
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => {
    if (!isRunning(child)) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-LOG_TAIL_CHARS);
    } catch {
      return '';
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (isRunning(child)) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (isRunning(child)) child.kill('SIGKILL');
      }, RELAY_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  try {
    type Started = { smtp?: { port: number }; http?: { port: number }; api?: { port: number } };
    const started = await new Promise<Started>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('relay did not start in time')),
        RELAY_START_TIMEOUT_MS,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      child.once('error', fail);
      child.once('exit', (code, signal) =>
        fail(new Error(`relay exited (code ${code}, signal ${signal}) before listening`)),
      );
      options.signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
      child.on('message', (msg: Started & { type?: string }) => {
        if (msg?.type !== 'started') return;
        clearTimeout(timer);
        resolve(msg);
      });
    });
    if (!started.smtp || !started.http) throw new Error('relay started without an SMTP or HTTP listener');
    if (options.api && !started.api) throw new Error('relay started without the HTTP API listener');
    const deadline = Date.now() + RELAY_START_TIMEOUT_MS;
    while ((await getReadyz(started.http.port)) !== HTTP_OK) {
      if (!isRunning(child)) throw new Error('relay exited while waiting for /readyz');
      if (options.signal.aborted) throw new Error('aborted');
      if (Date.now() > deadline) throw new Error('relay /readyz did not answer 200 in time');
      await delay(READY_POLL_MS);
    }
    return {
      pid: child.pid ?? 0,
      smtp: { host: LOOPBACK, port: started.smtp.port },
      http: { host: LOOPBACK, port: started.http.port },
      api: started.api ? { host: LOOPBACK, port: started.api.port } : undefined,
      configPath,
      logPath,
      logTail,
      stop,
    };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nrelay log (${logPath}):\n${logTail()}`);
  }
}
