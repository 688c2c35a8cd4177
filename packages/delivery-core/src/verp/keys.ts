/**
 * The VERP signing keys: the current secret signs, earlier ones (after a rotation) still verify.
 * Each key has a 6-bit id derived from the secret, carried in the token so decoding tries only
 * the keys with that id (two secrets may share an id: both are tried).
 */
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';

/** Bits of the key id in a token. */
export const KEY_ID_BITS = 6;

export interface VerpKey {
  /** 0..63: the top 6 bits of SHA-256(secret). */
  readonly id: number;
  readonly key: KeyObject;
}

export interface VerpKeySet {
  /** Signs new tokens. */
  readonly signing: VerpKey;
  /** Every key that verifies (the signing key first). */
  readonly all: readonly VerpKey[];
}

export function verpKeyId(secret: string): number {
  return createHash('sha256').update(secret, 'utf8').digest()[0]! >>> (8 - KEY_ID_BITS);
}

function toKey(secret: string): VerpKey {
  if (secret.length === 0) throw new TypeError('a VERP secret must not be empty');
  return { id: verpKeyId(secret), key: createSecretKey(Buffer.from(secret, 'utf8')) };
}

/** The key set of `bounce.verp_secret` and `bounce.verp_previous_secrets`. */
export function verpKeys(secret: string, previous: readonly string[] = []): VerpKeySet {
  const signing = toKey(secret);
  return { signing, all: [signing, ...previous.filter((s) => s !== secret).map(toKey)] };
}

/** The keys that may have signed a token carrying `id`. */
export function keysWithId(keys: VerpKeySet, id: number): VerpKey[] {
  return keys.all.filter((k) => k.id === id);
}
