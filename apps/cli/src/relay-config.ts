/**
 * The config a maintenance command (site, tenant, suppression, queue stats, shaping explain,
 * doctor) acts on, and which Redis that is: `--config FILE` as the relay loads it (REDIS_URL
 * overrides its redis.url); else REDIS_URL over the built-in defaults; else, inside a checkout
 * where `npm start` ran, the effective config it wrote (`.herald/herald.yaml`, found from the
 * working directory upwards), so `npx herald queue stats` next to `npm start` reads its Redis;
 * else the built-in defaults. A command that uses Redis says on stderr which one it read (the
 * password masked). Logging is silenced (these commands print their own output). A ConfigError
 * is printed (`herald: <code>: …`) and yields undefined (exit 1).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  defaultConfig,
  describeRedisTarget,
  type HeraldConfig,
  loadConfigFile,
  parseConfig,
  redisTarget,
} from '@herald/delivery-core';
import { printError } from './command.js';
import type { CliIo } from './io.js';
import { printable } from './terminal-text.js';

/** Where `npm start` (scripts/start.mjs) writes its effective config, under the checkout's root. */
export const NPM_START_CONFIG = join('.herald', 'herald.yaml');

/** Group- and world-write permission bits. */
const SHARED_WRITE_BITS = 0o022;
/** This module's place in a checkout: <root>/apps/cli/{src,dist}/relay-config.*. */
const CHECKOUT_ROOT_FROM_MODULE = '../../..';

/** True when `dir` holds Herald's workspace-root package.json (name "herald" with workspaces). */
export function isHeraldCheckout(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    return pkg.name === 'herald' && Array.isArray(pkg.workspaces);
  } catch {
    return false;
  }
}

/** The checkout this CLI's code lives in; undefined when it is installed as a package. */
export function ownCheckout(): string | undefined {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), CHECKOUT_ROOT_FROM_MODULE);
  return isHeraldCheckout(root) ? root : undefined;
}

export type NpmStartConfig = { file: string } | { file: string; ignored: string } | undefined;

/**
 * npm start's config in `checkout` when `cwd` is inside it: `{ file }` when usable, `{ file,
 * ignored }` (why) when it exists but someone else could have written it; undefined otherwise.
 * Nothing above the checkout's root is ever looked at.
 */
export function findNpmStartConfig(cwd: string, checkout: string | undefined): NpmStartConfig {
  if (checkout === undefined || !isHeraldCheckout(checkout)) return undefined;
  const inside = relative(checkout, cwd);
  if (inside.startsWith('..') || isAbsolute(inside)) return undefined;
  const file = join(checkout, NPM_START_CONFIG);
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return { file, ignored: 'not a regular file' };
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) return { file, ignored: `owned by uid ${stat.uid}, not you` };
  if ((stat.mode & SHARED_WRITE_BITS) !== 0) return { file, ignored: 'group- or world-writable' };
  return { file };
}

interface Chosen {
  load(): HeraldConfig;
  /** Where the Redis URL came from, for the stderr line. */
  origin(): string;
  /** What to try when that Redis cannot be reached (only where Herald chose it, not the user). */
  unreachable?: string;
}

/** The hint of the Redis each CliIo's command chose, for `redisUnreachableHint`. */
const unreachableHints = new WeakMap<CliIo, string>();

/**
 * What to say after HERALD_REDIS_UNAVAILABLE when the command, not the user, chose the Redis:
 * npm start's (is it running?) or the built-in default (no config given).
 */
export function redisUnreachableHint(io: CliIo): string | undefined {
  return unreachableHints.get(io);
}

function choose(file: string | undefined, io: CliIo): Chosen {
  if (file) {
    return {
      // A maintenance command never signs a VERP address: npm start's "generate" placeholder is fine.
      load: () => loadConfigFile(file, { env: io.env, onGeneratedSecret: () => {} }),
      origin: () => (io.env.REDIS_URL ? 'REDIS_URL, over --config' : `--config ${file}`),
    };
  }
  if (io.env.REDIS_URL) {
    const url = io.env.REDIS_URL;
    return { load: () => defaultConfig({ redis: { url } }), origin: () => 'REDIS_URL' };
  }
  const cwd = io.cwd ?? process.cwd();
  const started = findNpmStartConfig(cwd, 'checkout' in io ? io.checkout : ownCheckout());
  const shown = started && (relative(cwd, started.file) || started.file);
  if (started && !('ignored' in started)) {
    return {
      load: () => loadConfigFile(started.file, { env: io.env }),
      origin: () => `${shown}, this checkout's npm start config; --config or REDIS_URL to choose`,
      unreachable: `that is the Redis npm start runs for this checkout: is \`npm start\` running? Or choose another Redis with --config or REDIS_URL`,
    };
  }
  const ignored = started ? `; ignored ${shown}: ${started.ignored}` : '';
  return {
    load: () => defaultConfig({}),
    origin: () => `built-in default${ignored}; --config or REDIS_URL to choose`,
    unreachable:
      'no config was given, so this is the built-in default: run `npm start` in a Herald checkout and the command from there, or choose a Redis with --config or REDIS_URL',
  };
}

export function loadRelayConfig(
  file: string | undefined,
  io: CliIo,
  overrides: { dnsServer?: string | undefined; usesRedis?: boolean; spools?: boolean } = {},
): HeraldConfig | undefined {
  const chosen = choose(file, io);
  if (chosen.unreachable) unreachableHints.set(io, chosen.unreachable);
  else unreachableHints.delete(io);
  let config: HeraldConfig;
  try {
    const loaded = chosen.load();
    config = parseConfig({
      ...loaded,
      events: { ...loaded.events, log_level: 'silent' },
      ...(overrides.dnsServer ? { dns: { ...loaded.dns, servers: [overrides.dnsServer] } } : {}),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printError(io, err.code, err.message);
    return undefined;
  }
  // `redis.durability: strict` guards what a process spools (a 250 / 202 waits for the write to be
  // durable), and its start-up check refuses a Redis that cannot keep that promise. A command that
  // spools nothing (`spools: false`: reads, suppression, site and tenant state) needs no barrier,
  // so it still answers against such a Redis: the operator diagnosing a relay that refused to
  // start, or a cluster whose promoted master has no replica yet, can read the queue.
  if (overrides.spools === false) config = { ...config, redis: { ...config.redis, durability: 'fast' } };
  if (overrides.usesRedis !== false)
    io.stderr.write(
      printable(`redis: ${describeRedisTarget(redisTarget(config.redis))} (${chosen.origin()})\n`),
    );
  return config;
}
