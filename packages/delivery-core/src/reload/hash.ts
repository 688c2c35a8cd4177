/**
 * The version of the config a process runs: a short SHA-256 over the effective config, the
 * shaping file as loaded (over the provider defaults) and the DKIM keys' public halves, so a
 * change to any file the relay reads changes it. Exported as `herald_config_info{hash}` and on
 * `/readyz`, so a rolling change is visible per process. Deterministic for equal inputs.
 */
import { createHash } from 'node:crypto';
import type { HeraldConfig } from '../config/index.js';

/** Hex digits kept of the SHA-256 (48 bits: enough to tell versions apart, short on a graph). */
export const CONFIG_HASH_HEX_CHARS = 12;

export interface ConfigVersionInput {
  config: HeraldConfig;
  /** The shaping file as loaded (plain data). */
  shaping: unknown;
  /** Each DKIM key's public key (its p= value), in config order. */
  dkimPublicKeys: readonly string[];
}

export function configHash({ config, shaping, dkimPublicKeys }: ConfigVersionInput): string {
  const hash = createHash('sha256');
  hash.update(stableJson(config));
  hash.update('\n');
  hash.update(stableJson(shaping));
  hash.update('\n');
  hash.update(dkimPublicKeys.join('\n'));
  return hash.digest('hex').slice(0, CONFIG_HASH_HEX_CHARS);
}

/** JSON with object keys sorted, so key order never changes the hash. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v === Infinity || v === -Infinity
        ? String(v)
        : v,
  );
}
