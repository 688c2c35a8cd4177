/**
 * The config `npm start` runs (HERALD_CONFIG, or the embedded default), read as a plain object
 * with every file path it names (shaping file, TLS files, DKIM keys, bounce rules, MTA-STS CA)
 * made absolute against that file's folder, as `herald relay --config` reads them. start.mjs
 * writes the result to .herald/herald.yaml, and a relative path would otherwise be read against
 * .herald/. Imports yaml and delivery-core lazily: start.mjs installs and builds them first.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export async function readStartConfig(path) {
  const { default: YAML } = await import('yaml');
  const { resolveFilePaths } = await import('@herald/delivery-core/config');
  return resolveFilePaths(YAML.parse(readFileSync(path, 'utf8')) ?? {}, dirname(resolve(path)));
}

/** The only address npm start runs its capture sink on. */
export const SINK_VIA = '127.0.0.1:2526';

/**
 * Whether npm start runs its capture sink for `config`: only when the route for `*` goes to
 * SINK_VIA. A `*` route elsewhere gets a `note` to print, so that mail deferred with ECONNREFUSED
 * at another port (a config whose ports were all moved) is not a silent surprise.
 */
export function captureSinkPlan(config) {
  const route = (config.routes ?? []).find((r) => r?.match === '*');
  if (!route) return { start: false };
  if (route.via === SINK_VIA) return { start: true };
  return {
    start: false,
    note: `no capture sink: this config routes * to ${route.via}, not ${SINK_VIA} (the only address npm start runs its sink on); mail waits in the queue unless something listens there`,
  };
}
