/**
 * Hiding secrets before a config is printed: values under password-like keys become "***" and the
 * password part of URLs (redis://:pw@host) is replaced. Pure; returns copies, never mutates.
 */
export const MASK = '***';
const SECRET_KEY = /password|secret|passphrase|token|private_key/i;
const URL_KEY = /(^|_)url$/i;

/** "redis://:pw@host:6379" → "redis://:***@host:6379"; other strings come back unchanged. */
export function maskUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  parsed.password = MASK;
  return parsed.href;
}

/** A deep copy of `value` with secrets masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  // A list under a secret key (verp_previous_secrets) is a list of secrets.
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (typeof value !== 'string') return value;
  if (SECRET_KEY.test(key)) return MASK;
  return URL_KEY.test(key) ? maskUrl(value) : value;
}
