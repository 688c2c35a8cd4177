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
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  ConfigError,
  defaultConfig,
  type HeraldConfig,
  loadConfigFile,
  parseConfig,
} from '@herald/delivery-core';
import { maskUrl } from '@herald/delivery-core/config';
import { printError } from './command.js';
import type { CliIo } from './io.js';

/** Where `npm start` (scripts/start.mjs) writes its effective config, under the checkout's root. */
export const NPM_START_CONFIG = join('.herald', 'herald.yaml');

/** `.herald/herald.yaml` in `from` or the nearest folder above it that has one. */
export function findNpmStartConfig(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, NPM_START_CONFIG);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

interface Chosen {
  load(): HeraldConfig;
  /** Where the Redis URL came from, for the stderr line. */
  origin(): string;
}

function choose(file: string | undefined, io: CliIo): Chosen {
  if (file) {
    return {
      load: () => loadConfigFile(file, { env: io.env }),
      origin: () => (io.env.REDIS_URL ? 'REDIS_URL, over --config' : `--config ${file}`),
    };
  }
  if (io.env.REDIS_URL) {
    const url = io.env.REDIS_URL;
    return { load: () => defaultConfig({ redis: { url } }), origin: () => 'REDIS_URL' };
  }
  const cwd = io.cwd ?? process.cwd();
  const started = findNpmStartConfig(cwd);
  if (started) {
    return {
      load: () => loadConfigFile(started, { env: io.env }),
      origin: () =>
        `${relative(cwd, started) || started}, written by npm start; --config or REDIS_URL to choose`,
    };
  }
  return { load: () => defaultConfig({}), origin: () => 'built-in default; --config or REDIS_URL to choose' };
}

export function loadRelayConfig(
  file: string | undefined,
  io: CliIo,
  overrides: { dnsServer?: string | undefined; usesRedis?: boolean } = {},
): HeraldConfig | undefined {
  const chosen = choose(file, io);
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
  if (overrides.usesRedis !== false)
    io.stderr.write(`redis: ${maskUrl(config.redis.url)} (${chosen.origin()})\n`);
  return config;
}
