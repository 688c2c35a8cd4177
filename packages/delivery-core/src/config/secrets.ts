/**
 * What counts as a secret in configuration, in one place for error messages and for printing a
 * config (`herald config check --json`): values under keys named like passwords, secrets, tokens
 * or private keys, and the password in a URL
 * (`redis://user:pw@host`, `?password=`). `Redactor` masks known secret strings wherever they turn
 * up in a message and shortens it, so a cut never leaves the start of a secret. Pure.
 */
import { GENERATED_SECRET_PLACEHOLDER } from './schema-bounce.js';

export const MASK = '***';
/**
 * smtp.users[].password / password_hash, routes[].auth.password, bounce.verp_secret /
 * verp_previous_secrets, dkim[].private_key: a key made of words joined by "_", one of them
 * password, secret, token… (so a tenant called "secret-ops" is not one); and `key` / `key_hash`
 * (api.admin_keys); `headers` (telemetry.otlp.headers: every value below it).
 */
const SECRET_KEY = /(^|_)(password|passwd|passphrase|secret|token|private_key)s?(_|$)/i;
/** api.admin_keys[].key / key_hash: an API key, or its hash, is a secret too (not `key_file`, a path). */
const API_KEY_KEY = /^(key|key_hash|api_key)$/i;
/**
 * telemetry.otlp.headers: request headers for a collector carry API tokens, so the whole mapping
 * is a secret (its values masked; a header name in an error path is masked too).
 */
const HEADERS_KEY = /^headers$/i;
/**
 * Keys holding URLs or addresses that may carry user info (`user:password@`): `url`, `*_url`,
 * `cluster` (a list of seeds, URLs allowed), `endpoint` (an OTLP collector) and `via` (a route's
 * next hop, where a password before an `@` is a mistake an error must not print).
 */
const URL_KEY = /(^|_)url$|^cluster$|^endpoint$|^via$/i;
/**
 * A URL's user info: what lies between the first "//" (or the start) and the last "@" — greedy and
 * forgiving, since it must also work on text that is not a valid URL; over-masking is safe.
 */
const URL_USERINFO = /^(.*?\/\/)?(.*)@/s;
const URL_QUERY_PARAM = /([?&;])([^=&#;]*)=([^&#;]*)/g;
/** Secrets shorter than this are not searched for in messages (they would match ordinary words). */
export const MIN_SCRUBBED_SECRET_CHARS = 8;
/** Longer secrets (beyond a PEM key) are only kept out of messages by their key, not searched for. */
export const MAX_SCRUBBED_SECRET_CHARS = 8192;
/** At most this many distinct secrets are searched for in messages (bounds the work per message). */
export const MAX_SCRUBBED_SECRETS = 1000;

export function isSecretKey(key: PropertyKey): boolean {
  return typeof key === 'string' && (SECRET_KEY.test(key) || API_KEY_KEY.test(key) || HEADERS_KEY.test(key));
}

/** True when any key on the path names a secret (so `verp_previous_secrets[0]` is one). */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some(isSecretKey);
}

export function isUrlKey(key: PropertyKey): boolean {
  return typeof key === 'string' && URL_KEY.test(key);
}

/** True when a value at `path` holds a URL: its key, or for a list item its list's key, is a URL key. */
export function isUrlPath(path: readonly PropertyKey[]): boolean {
  const key = [...path].reverse().find((k) => typeof k === 'string' && !/^\d+$/.test(k));
  return key !== undefined && isUrlKey(key);
}

function urlSecretParts(text: string): { userinfo?: string; params: string[] } {
  const userinfo = URL_USERINFO.exec(text)?.[2];
  const params: string[] = [];
  for (const m of text.matchAll(URL_QUERY_PARAM))
    if (isSecretKey(m[2]!) || /^pass$/i.test(m[2]!)) params.push(m[3]!);
  return { userinfo, params };
}

/**
 * "redis://:pw@host:6379" → "redis://:***@host:6379", "redis://u:pw@h" → "redis://u:***@h",
 * "redis://pw@h" → "redis://***@h", "redis://h/?password=pw" → "redis://h/?password=***". Works on
 * text that is not a valid URL too; anything else comes back unchanged.
 */
export function maskUrl(text: string): string {
  const masked = text.replace(URL_USERINFO, (_all, scheme: string | undefined, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme ?? ''}${colon < 0 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`}@`;
  });
  return masked.replace(URL_QUERY_PARAM, (all, sep: string, name: string) =>
    isSecretKey(name) || /^pass$/i.test(name) ? `${sep}${name}=${MASK}` : all,
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The secret strings in a config-like value: every string (and number) under a secret key, keys
 * below one included, and the password parts of URLs under `url` keys. For Redactor.
 */
export function secretsIn(value: unknown): string[] {
  const found = new Set<string>();
  const add = (s: string) => {
    if (s.length < MIN_SCRUBBED_SECRET_CHARS || s.length > MAX_SCRUBBED_SECRET_CHARS) return;
    // The word npm start replaces is no secret, and the error about it names it.
    if (s.trim().toLowerCase() !== GENERATED_SECRET_PLACEHOLDER) found.add(s);
  };
  const seen = new Set<object>();
  const stack: { value: unknown; key: PropertyKey; secret: boolean }[] = [{ value, key: '', secret: false }];
  while (stack.length > 0 && found.size < MAX_SCRUBBED_SECRETS) {
    const item = stack.pop()!;
    const secret = item.secret || isSecretKey(item.key);
    if (typeof item.value === 'string' || typeof item.value === 'number') {
      const text = String(item.value);
      if (secret) add(text);
      else if (isUrlKey(item.key) && typeof item.value === 'string') {
        const { userinfo, params } = urlSecretParts(text);
        for (const part of [userinfo ?? '', userinfo?.slice(userinfo.indexOf(':') + 1) ?? '', ...params]) {
          add(part);
          add(safeDecode(part));
        }
      }
    } else if (typeof item.value === 'object' && item.value !== null && !seen.has(item.value)) {
      seen.add(item.value);
      for (const [key, child] of Object.entries(item.value)) {
        if (secret) add(key);
        stack.push({ value: child, key: Array.isArray(item.value) ? item.key : key, secret });
      }
    }
  }
  return [...found];
}

/** Masks known secrets in text and shortens it, never leaving the start of a secret at the cut. */
export class Redactor {
  private readonly needles: string[];
  private readonly longest: number;

  constructor(secrets: readonly string[] = []) {
    const needles = new Set<string>();
    for (const secret of secrets.slice(0, MAX_SCRUBBED_SECRETS)) {
      needles.add(secret);
      needles.add(JSON.stringify(secret).slice(1, -1)); // as it appears inside a quoted value
    }
    this.needles = [...needles].filter((n) => n.length > 0);
    this.longest = Math.max(0, ...this.needles.map((n) => n.length));
  }

  /** `text` with every secret replaced by MASK, cut to at most about `maxChars` characters. */
  text(text: string, maxChars: number): string {
    const limit = Math.min(text.length, maxChars);
    // Every secret that starts before the cut ends inside this window.
    const window = text.slice(0, maxChars + this.longest);
    const ranges: [number, number][] = [];
    for (const needle of this.needles) {
      for (let at = window.indexOf(needle); at >= 0 && at < limit; at = window.indexOf(needle, at + 1))
        ranges.push([at, at + needle.length]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    let out = '';
    let pos = 0;
    for (const [start, end] of ranges) {
      if (end <= pos) continue;
      if (start > pos) out += window.slice(pos, start);
      if (start >= pos) out += MASK;
      pos = end;
    }
    if (pos < limit) out += window.slice(pos, limit);
    return text.length > maxChars ? `${out}…` : out;
  }
}
