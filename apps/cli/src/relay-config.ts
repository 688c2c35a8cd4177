/**
 * The config a maintenance command (site, shaping explain, queue stats) acts on: `--config FILE`
 * as the relay loads it, or the built-in defaults with REDIS_URL. Logging is silenced (these
 * commands print their own output). A ConfigError is printed and yields undefined (exit 1).
 */
import {
  ConfigError,
  defaultConfig,
  type HeraldConfig,
  loadConfigFile,
  parseConfig,
} from '@herald/delivery-core';
import { printError } from './command.js';
import type { CliIo } from './io.js';

export function loadRelayConfig(
  file: string | undefined,
  io: CliIo,
  overrides: { dnsServer?: string | undefined } = {},
): HeraldConfig | undefined {
  try {
    const loaded = file
      ? loadConfigFile(file, { env: io.env })
      : defaultConfig(io.env.REDIS_URL ? { redis: { url: io.env.REDIS_URL } } : {});
    return parseConfig({
      ...loaded,
      events: { ...loaded.events, log_level: 'silent' },
      ...(overrides.dnsServer ? { dns: { ...loaded.dns, servers: [overrides.dnsServer] } } : {}),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printError(io, err.code, err.message);
    return undefined;
  }
}
