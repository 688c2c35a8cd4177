/**
 * Password hashing for SMTP AUTH users and `herald hash-password`. Stored form:
 * "scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>" (node:crypto scrypt). Verification is constant
 * time over the derived key and never throws: a malformed stored string simply does not verify.
 * Cost parameters read from a stored string are bounded so a hostile config cannot exhaust memory.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export const SCRYPT_N = 16384;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SALT_BYTES = 16;
export const KEY_BYTES = 32;

/** Upper bounds accepted when verifying (scrypt needs about 128·N·r bytes of memory). */
const MAX_SCRYPT_MEMORY_BYTES = 64 * 1024 * 1024;
const SCRYPT_BLOCK_BYTES = 128;
const MAX_SCRYPT_P = 16;
const MIN_SALT_BYTES = 8;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 64;
const PREFIX = 'scrypt';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^[1-9]\d{0,9}$/;

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(
  plain: string,
  salt: Buffer,
  keyBytes: number,
  N: number,
  r: number,
  p: number,
): Promise<Buffer> {
  const maxmem = 2 * SCRYPT_BLOCK_BYTES * N * r + SCRYPT_BLOCK_BYTES * r * p;
  return new Promise((resolve, reject) => {
    scrypt(plain.normalize('NFC'), salt, keyBytes, { N, r, p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function decodeBase64(s: string | undefined): Buffer | undefined {
  if (s === undefined || !BASE64.test(s) || s.length % 4 !== 0) return undefined;
  return Buffer.from(s, 'base64');
}

function parseStored(stored: string): ScryptHash | undefined {
  if (typeof stored !== 'string') return undefined;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [, nText = '', rText = '', pText = ''] = parts;
  if (!DECIMAL.test(nText) || !DECIMAL.test(rText) || !DECIMAL.test(pText)) return undefined;
  const N = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || SCRYPT_BLOCK_BYTES * N * r > MAX_SCRYPT_MEMORY_BYTES || p > MAX_SCRYPT_P)
    return undefined;
  const salt = decodeBase64(parts[4]);
  const hash = decodeBase64(parts[5]);
  if (!salt || salt.length < MIN_SALT_BYTES) return undefined;
  if (!hash || hash.length < MIN_KEY_BYTES || hash.length > MAX_KEY_BYTES) return undefined;
  return { N, r, p, salt, hash };
}

/** True when `stored` has the shape hashPassword produces (does not check any password). */
export function isPasswordHash(stored: string): boolean {
  return parseStored(stored) !== undefined;
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(plain: string): Promise<string> {
  if (typeof plain !== 'string') throw new TypeError('password must be a string');
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(plain, salt, KEY_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return [PREFIX, SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** True when `plain` matches `stored`; false for a wrong password or a malformed stored string. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  try {
    if (typeof plain !== 'string') return false;
    const parsed = parseStored(stored);
    if (!parsed) return false;
    const candidate = await derive(plain, parsed.salt, parsed.hash.length, parsed.N, parsed.r, parsed.p);
    return timingSafeEqual(candidate, parsed.hash);
  } catch {
    return false;
  }
}
