/**
 * The version of the config a process runs: a short SHA-256 over the effective config, the
 * shaping file as loaded (over the provider defaults) and the DKIM keys' public halves, so a
 * change to any file the relay reads changes it. Exported as `herald_config_info{hash}` and on
 * `/readyz`, so a rolling change is visible per process. Deterministic for equal inputs.
 * Secrets (values under secret keys, URL passwords) are not hashed as they are: the version is
 * public (an unauthenticated /metrics), and a fast hash of a config an attacker mostly knows
 * would let them test password guesses offline. They enter through one scrypt digest instead,
 * so a rotated password still changes the version, but each guess costs a scrypt.
 */
import { createHash, scryptSync } from 'node:crypto';
import { type HeraldConfig, isSecretKey, isUrlKey, MASK, maskUrl } from '../config/index.js';

/** Hex digits kept of the SHA-256 (48 bits: enough to tell versions apart, short on a graph). */
export const CONFIG_HASH_HEX_CHARS = 12;
/** The scrypt salt of the secrets' digest: fixed, so every process computes the same version. */
const SECRETS_SALT = 'herald-config-version';
const SECRETS_DIGEST_BYTES = 32;

export interface ConfigVersionInput {
  config: HeraldConfig;
  /** The shaping file as loaded (plain data). */
  shaping: unknown;
  /** Each DKIM key's public key (its p= value), in config order. */
  dkimPublicKeys: readonly string[];
}

export function configHash({ config, shaping, dkimPublicKeys }: ConfigVersionInput): string {
  const secrets: string[] = [];
  const hash = createHash('sha256');
  hash.update(stableJson(config, secrets));
  hash.update('\n');
  hash.update(stableJson(shaping, secrets));
  hash.update('\n');
  hash.update(dkimPublicKeys.join('\n'));
  if (secrets.length > 0) hash.update(scryptSync(secrets.join('\n'), SECRETS_SALT, SECRETS_DIGEST_BYTES));
  return hash.digest('hex').slice(0, CONFIG_HASH_HEX_CHARS);
}

/** JSON with object keys sorted (key order never changes it) and secrets moved to `secrets`. */
function stableJson(value: unknown, secrets: string[]): string {
  return JSON.stringify(value, (key: string, v: unknown) => {
    if (key !== '' && isSecretKey(key) && v !== undefined) {
      secrets.push(JSON.stringify(v));
      return MASK;
    }
    if (isUrlKey(key) && (typeof v === 'string' || Array.isArray(v))) {
      secrets.push(JSON.stringify(v));
      return typeof v === 'string'
        ? maskUrl(v)
        : v.map((item) => (typeof item === 'string' ? maskUrl(item) : item));
    }
    if (v === Infinity || v === -Infinity) return String(v);
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    return v;
  });
}
