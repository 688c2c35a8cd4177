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
