/**
 * Hiding secrets before a config is printed: values under secret keys (the config module's
 * `isSecretKey`: passwords, password hashes, VERP secrets, private keys, tokens) become "***", and
 * the password part of URLs (`redis://:pw@host`, `?password=`) is replaced. Pure; returns copies,
 * never mutates.
 */
import { isSecretKey, isUrlKey, MASK, maskUrl } from '@herald/delivery-core/config';

export { MASK, maskUrl };

/** A deep copy of `value` with secrets masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  // A list under a secret key (verp_previous_secrets) is a list of secrets.
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, key));
  if (typeof value === 'object' && value !== null) {
    // A mapping under a secret key (telemetry.otlp.headers): its names shown, every value masked.
    if (isSecretKey(key)) return Object.fromEntries(Object.keys(value).map((k) => [k, MASK]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (isSecretKey(key) && value !== undefined && value !== null) return MASK;
  return typeof value === 'string' && isUrlKey(key) ? maskUrl(value) : value;
}
