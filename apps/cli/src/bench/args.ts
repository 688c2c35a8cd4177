/**
 * `herald bench` command-line options.
 * Owns: parsing argv into BenchParams (defaults, ranges, usage text).
 * Guarantees: pure; a bad option throws BenchUsageError naming it; nothing is started here.
 * Needs injected: nothing.
 */
import { MAX_QUEUE_SHARDS } from '@herald/delivery-core/keys';

export const DEFAULT_MESSAGES = 20_000;
export const DEFAULT_CONCURRENCY = 20;
export const DEFAULT_SIZE_BYTES = 2048;
export const DEFAULT_RECIPIENTS = 1;
export const DEFAULT_TIMEOUT_S = 300;
const MAX_RECIPIENTS = 1000;
const MAX_CONCURRENCY = 1000;
/** Up to a 64 MiB body: the relay's smtp.max_message_size is raised to fit (relay-process.ts). */
const MAX_SIZE_BYTES = 64 * 1024 * 1024;
const MAX_PORT = 65_535;
const MAX_ROUNDS = 100;
const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/i;

export interface BenchParams {
  messages: number;
  concurrency: number;
  sizeBytes: number;
  recipients: number;
  /** An already running relay ("host:port"); undefined = start one. */
  relay: { host: string; port: number } | undefined;
  /** Port of the counting sink on 127.0.0.1; 0 = any free port. */
  sinkPort: number;
  timeoutS: number;
  jsonOnly: boolean;
  /** Write a V8 CPU profile of the relay child to this folder (only when the bench starts it). */
  cpuProfDir: string | undefined;
  /** Scheduled (deferred) messages written into the relay's Redis before the timed run. */
  backlog: number;
  /** The relay's queue.shards; the backlog is spread over them as the spool spreads messages. */
  shards: number;
  /** Run the relay with a `behaviour` section (compromised-account detection on). */
  behaviour: boolean;
  /** Which submission paths to measure, in this order (SMTP first, then the HTTP API). */
  paths: BenchPath[];
  /** How the API bench's requests carry the message: `raw` (the SMTP bench's bytes) or fields. */
  apiBody: ApiBodyMode;
  /** With both paths: alternate them in this many rounds of messages/rounds each (load drift). */
  rounds: number;
  /** The relay's redis.durability; `strict` starts the private Redis with appendfsync always. */
  durability: BenchDurability;
  /** Run the relay with telemetry on at this sample ratio, to a local sink that discards; undefined = off. */
  telemetrySample: number | undefined;
  help: boolean;
}

export type BenchPath = 'smtp' | 'api';
export type BenchDurability = 'fast' | 'strict';
const DURABILITIES: readonly BenchDurability[] = ['fast', 'strict'];
export type ApiBodyMode = 'raw' | 'structured';
const API_BODY_MODES: readonly ApiBodyMode[] = ['raw', 'structured'];

export class BenchUsageError extends Error {}

export const BENCH_USAGE = `Usage: herald bench [options]

Drives N messages through a Herald relay into a counting SMTP sink on 127.0.0.1 and prints one
JSON object with submit and end-to-end rates. Without --relay it starts a private redis-server
(or uses REDIS_URL), the sink and a relay child process, and stops them afterwards. With --api
the same relay then takes N more messages through POST /v1/messages (keep-alive connections, a
tenant key created for the run), and the result holds both rates and their ratio API/SMTP.

Options:
  --messages N        messages to send (default ${DEFAULT_MESSAGES})
  --concurrency C     parallel SMTP client sessions / HTTP connections (default ${DEFAULT_CONCURRENCY})
  --size BYTES        body bytes per message (default ${DEFAULT_SIZE_BYTES}, at most 64 MiB)
  --recipients R      envelope recipients per message (default ${DEFAULT_RECIPIENTS})
  --relay HOST:PORT   use an already running relay whose route '*' points at --sink-port
  --sink-port P       port of the counting sink (default: a free port; required with --relay)
  --timeout S         the whole run ends after S seconds (default ${DEFAULT_TIMEOUT_S})
  --cpu-prof DIR      run the relay child under node --cpu-prof, profile written to DIR
  --backlog N         first fill the relay's Redis with N messages scheduled 24 h ahead (default 0)
  --shards N          the relay's queue.shards (default 1); a backlog is spread over every shard
  --behaviour         the relay runs with a behaviour section (every rule judged, none trips)
  --api               after the SMTP run, the same load through the HTTP API; report both
  --api-only          only the HTTP API run
  --rounds K          with --api: alternate SMTP and API K times, N/K messages each (default 1)
  --api-body MODE     raw (default: the SMTP bench's message as "raw") or structured (fields)
  --durability MODE   the relay's redis.durability: fast (default) or strict (the private Redis
                      then runs appendfsync always; a REDIS_URL server must suit strict mode)
  --telemetry-sample R  the relay exports OpenTelemetry traces (sample_ratio R, 0..1) to a local
                      OTLP/HTTP sink in the bench that discards them (default: telemetry off)
  --json-only         no progress or summary on stderr, only the JSON on stdout
  -h, --help          this text
`;

function integerOption(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value)) {
    throw new BenchUsageError(`${name}: expected an integer, got ${JSON.stringify(value ?? '')}`);
  }
  const n = Number(value);
  if (n < min || n > max) throw new BenchUsageError(`${name}: expected ${min}..${max}, got ${n}`);
  return n;
}

export function parseHostPortOption(name: string, value: string | undefined): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value ?? '');
  if (!match) throw new BenchUsageError(`${name}: expected HOST:PORT, got ${JSON.stringify(value ?? '')}`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (!LOOPBACK_HOST.test(host))
    throw new BenchUsageError(`${name}: only loopback hosts are allowed, got ${host}`);
  return { host, port: integerOption(name, match[2], 1, MAX_PORT) };
}

export function parseBenchArgs(argv: readonly string[]): BenchParams {
  const params: BenchParams = {
    messages: DEFAULT_MESSAGES,
    concurrency: DEFAULT_CONCURRENCY,
    sizeBytes: DEFAULT_SIZE_BYTES,
    recipients: DEFAULT_RECIPIENTS,
    relay: undefined,
    sinkPort: 0,
    timeoutS: DEFAULT_TIMEOUT_S,
    jsonOnly: false,
    cpuProfDir: undefined,
    backlog: 0,
    shards: 1,
    behaviour: false,
    paths: ['smtp'],
    apiBody: 'raw',
    rounds: 1,
    durability: 'fast',
    telemetrySample: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--messages':
        params.messages = integerOption(name, value(), 1, Number.MAX_SAFE_INTEGER);
        break;
      case '--concurrency':
        params.concurrency = integerOption(name, value(), 1, MAX_CONCURRENCY);
        break;
      case '--size':
        params.sizeBytes = integerOption(name, value(), 0, MAX_SIZE_BYTES);
        break;
      case '--recipients':
        params.recipients = integerOption(name, value(), 1, MAX_RECIPIENTS);
        break;
      case '--relay':
        params.relay = parseHostPortOption(name, value());
        break;
      case '--sink-port':
        params.sinkPort = integerOption(name, value(), 1, MAX_PORT);
        break;
      case '--timeout':
        params.timeoutS = integerOption(name, value(), 1, Number.MAX_SAFE_INTEGER);
        break;
      case '--cpu-prof': {
        const dir = value();
        if (!dir) throw new BenchUsageError('--cpu-prof: expected a folder');
        params.cpuProfDir = dir;
        break;
      }
      case '--backlog':
        params.backlog = integerOption(name, value(), 0, Number.MAX_SAFE_INTEGER);
        break;
      case '--shards':
        params.shards = integerOption(name, value(), 1, MAX_QUEUE_SHARDS);
        break;
      case '--behaviour':
        params.behaviour = true;
        break;
      case '--api':
        params.paths = ['smtp', 'api'];
        break;
      case '--api-only':
        params.paths = ['api'];
        break;
      case '--rounds':
        params.rounds = integerOption(name, value(), 1, MAX_ROUNDS);
        break;
      case '--api-body': {
        const mode = value();
        if (!API_BODY_MODES.includes(mode as ApiBodyMode))
          throw new BenchUsageError(
            `--api-body: expected raw or structured, got ${JSON.stringify(mode ?? '')}`,
          );
        params.apiBody = mode as ApiBodyMode;
        break;
      }
      case '--durability': {
        const mode = value();
        if (!DURABILITIES.includes(mode as BenchDurability))
          throw new BenchUsageError(
            `--durability: expected fast or strict, got ${JSON.stringify(mode ?? '')}`,
          );
        params.durability = mode as BenchDurability;
        break;
      }
      case '--telemetry-sample': {
        const raw = value();
        const ratio = Number(raw);
        if (raw === undefined || raw.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1)
          throw new BenchUsageError(
            `--telemetry-sample: expected a number 0..1, got ${JSON.stringify(raw ?? '')}`,
          );
        params.telemetrySample = ratio;
        break;
      }
      case '--json-only':
        params.jsonOnly = true;
        break;
      case '-h':
      case '--help':
        params.help = true;
        break;
      default:
        throw new BenchUsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  if (params.relay && params.sinkPort === 0) {
    throw new BenchUsageError('--relay needs --sink-port (the port the relay routes "*" to)');
  }
  if (params.relay && params.cpuProfDir) {
    throw new BenchUsageError('--cpu-prof only applies to a relay the bench starts (not with --relay)');
  }
  if (params.relay && params.backlog > 0) {
    throw new BenchUsageError('--backlog only applies to a relay the bench starts (not with --relay)');
  }
  if (params.relay && params.behaviour) {
    throw new BenchUsageError('--behaviour only applies to a relay the bench starts (not with --relay)');
  }
  if (params.relay && params.shards !== 1) {
    throw new BenchUsageError('--shards only applies to a relay the bench starts (not with --relay)');
  }
  if (params.relay && params.paths.includes('api')) {
    throw new BenchUsageError(
      '--api and --api-only only apply to a relay the bench starts (not with --relay)',
    );
  }
  if (params.relay && params.durability !== 'fast') {
    throw new BenchUsageError('--durability only applies to a relay the bench starts (not with --relay)');
  }
  if (params.relay && params.telemetrySample !== undefined) {
    throw new BenchUsageError(
      '--telemetry-sample only applies to a relay the bench starts (not with --relay)',
    );
  }
  if (params.rounds > params.messages) {
    throw new BenchUsageError(`--rounds: at most --messages (${params.messages})`);
  }
  return params;
}
