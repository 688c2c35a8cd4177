/**
 * The VERP token: `bounces+<token>@<domain>`, the token lower-case base32 of this bit string
 * (most significant bit first):
 *
 * | bits  | field                                                                              |
 * | ----- | ---------------------------------------------------------------------------------- |
 * | 2     | layout version (1)                                                                 |
 * | 6     | key id (top 6 bits of SHA-256 of the signing secret)                               |
 * | 1     | tenant form: 0 = inline characters, 1 = keyed hash                                  |
 * | 8     | issue time: whole hours after the message's acceptance, saturating at 255          |
 * | 47    | message id, time part (its 9 base-36 digits: milliseconds since the epoch)         |
 * | 64    | message id, random part (its 16 hex digits)                                        |
 * | 32    | recipient: HMAC-SHA256(key, "r" 0x00 normalised address), first 32 bits            |
 * | 6 × n | tenant inline: n ≤ 9 characters of `0-9a-z_.-`; or 32 bits HMAC(key, "t" 0x00 tenant) |
 * | 64    | MAC: HMAC-SHA256(key, "herald-verp" 0x00 bit length ‖ everything above), first 64 bits |
 * | < 5   | zero padding to a whole base32 character                                           |
 *
 * At most 280 bits = 56 characters, so the local part (`bounces+` and the token) is at most 64
 * octets (RFC 5321 §4.5.3.1.1) whatever the recipient and tenant. The recipient is not carried:
 * a bounce names it (Final-Recipient, the text, the returned headers) and the caller confirms a
 * candidate with `matchesRecipient`. The hash is keyed so nobody can choose an address whose hash
 * collides with their own. The issue time rides on the message id's acceptance time.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { comparableDomain, normaliseAddress, splitAddress } from '../address/index.js';
import { MS_PER_HOUR } from '../config/index.js';
import { BitReader, BitWriter } from './bits.js';
import { KEY_ID_BITS, keysWithId, type VerpKey, type VerpKeySet } from './keys.js';

export const VERP_LOCAL_PREFIX = 'bounces+';
/** RFC 5321 §4.5.3.1.1. */
export const MAX_LOCAL_PART_OCTETS = 64;
const MAX_TOKEN_CHARS = MAX_LOCAL_PART_OCTETS - VERP_LOCAL_PREFIX.length;
const MAX_TOKEN_BITS = MAX_TOKEN_CHARS * 5;
/** Longer input is not an address Herald wrote (an address is at most 254 octets plus brackets). */
const MAX_INPUT_CHARS = 512;

const VERSION = 1;
const VERSION_BITS = 2;
const FORM_BITS = 1;
const AGE_BITS = 8;
const MAX_AGE_HOURS = 2 ** AGE_BITS - 1;
const ID_TIME_DIGITS = 9;
const ID_TIME_BITS = 47;
const ID_RANDOM_BYTES = 8;
const RECIPIENT_HASH_BYTES = 4;
const TENANT_HASH_BYTES = 4;
const MAC_BYTES = 8;
const TENANT_CHAR_BITS = 6;
const TENANT_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz_.-';
const HEADER_BITS =
  VERSION_BITS +
  KEY_ID_BITS +
  FORM_BITS +
  AGE_BITS +
  ID_TIME_BITS +
  ID_RANDOM_BYTES * 8 +
  RECIPIENT_HASH_BYTES * 8;
/** Inline tenants of up to this many characters; longer ones (or other characters) are hashed. */
export const MAX_INLINE_TENANT_CHARS = Math.floor(
  (MAX_TOKEN_BITS - HEADER_BITS - MAC_BYTES * 8) / TENANT_CHAR_BITS,
);
const INLINE_TENANT = new RegExp(`^[a-z0-9][a-z0-9_.-]{0,${MAX_INLINE_TENANT_CHARS - 1}}$`);
/** True when a token carries `tenant` as text; otherwise it carries a keyed hash of it. */
export function carriesTenantInline(tenant: string): boolean {
  return INLINE_TENANT.test(tenant);
}
const HERALD_MESSAGE_ID = /^[0-9a-z]{9}[0-9a-f]{16}$/;
const MAC_TAG = Buffer.from('herald-verp\0', 'latin1');

export interface VerpInput {
  tenant: string;
  /** A Herald message id (queue newMessageId: 9 base-36 digits of time, 16 hex digits). */
  messageId: string;
  recipient: string;
  /** Issue time, epoch ms. */
  now: number;
}

export type VerpFailure = 'not-verp' | 'malformed' | 'forged' | 'expired' | 'unknown-key';

export interface VerpDecoded {
  ok: true;
  /** The tenant; undefined when the token carries a hash of it that none of `tenants` matched. */
  tenant: string | undefined;
  /** Hex of the tenant hash, when the tenant was too long to carry inline. */
  tenantHash?: string;
  messageId: string;
  /** Hex of the keyed recipient hash (for logs); confirm an address with matchesRecipient. */
  recipientHash: string;
  /** Epoch ms, to the hour (rounded down: a token never looks younger than it is). */
  issuedAt: number;
  keyId: number;
  /** True when `address` (any case, `<>` and `rfc822;` stripped) is the token's recipient. */
  matchesRecipient(address: string): boolean;
  /** True when the token carries `tenant` (inline, or its keyed hash). */
  matchesTenant(tenant: string): boolean;
}

export type VerpResult = VerpDecoded | { ok: false; reason: VerpFailure };

export interface VerpDecodeOptions {
  now: number;
  maxAgeMs: number;
  /** When given, an address at another domain is `not-verp`. */
  domain?: string | undefined;
  /** Tenant names that a hashed tenant is resolved against (e.g. the configured ones). */
  tenants?: Iterable<string> | undefined;
}

interface Fields {
  keyId: number;
  hashedTenant: boolean;
  ageHours: number;
  idTime: number;
  idRandom: Buffer;
  recipientHash: Buffer;
  /** Inline tenant text, or its hash. */
  tenant: string | Buffer;
}

function keyedHash(key: VerpKey, tag: string, value: string, bytes: number): Buffer {
  return createHmac('sha256', key.key).update(`${tag}\0${value}`, 'utf8').digest().subarray(0, bytes);
}

function normalizeRecipient(address: string): string {
  return normaliseAddress(address.trim().replace(/^rfc822;\s*/i, ''));
}

function signedPart(f: Fields): BitWriter {
  const w = new BitWriter(MAX_TOKEN_BITS);
  w.write(VERSION, VERSION_BITS);
  w.write(f.keyId, KEY_ID_BITS);
  w.write(f.hashedTenant ? 1 : 0, FORM_BITS);
  w.write(f.ageHours, AGE_BITS);
  w.write(f.idTime, ID_TIME_BITS);
  w.writeBytes(f.idRandom);
  w.writeBytes(f.recipientHash);
  if (typeof f.tenant === 'string')
    for (const ch of f.tenant) w.write(TENANT_ALPHABET.indexOf(ch), TENANT_CHAR_BITS);
  else w.writeBytes(f.tenant);
  return w;
}

function mac(key: VerpKey, signed: BitWriter): Buffer {
  return createHmac('sha256', key.key)
    .update(MAC_TAG)
    .update(Buffer.of(signed.bitLength >>> 8, signed.bitLength & 0xff))
    .update(signed.toBytes())
    .digest()
    .subarray(0, MAC_BYTES);
}

/**
 * The return path for one (tenant, message, recipient): `bounces+<token>@<domain>`, local part at
 * most 64 octets. Throws TypeError when `messageId` is not a Herald message id.
 */
export function encodeVerp(input: VerpInput, keys: VerpKeySet, domain: string): string {
  if (!HERALD_MESSAGE_ID.test(input.messageId))
    throw new TypeError(`not a Herald message id: ${JSON.stringify(input.messageId)}`);
  const key = keys.signing;
  const idTime = Number.parseInt(input.messageId.slice(0, ID_TIME_DIGITS), 36);
  const ageHours = Math.min(MAX_AGE_HOURS, Math.max(0, Math.floor((input.now - idTime) / MS_PER_HOUR)));
  const inline = INLINE_TENANT.test(input.tenant);
  const signed = signedPart({
    keyId: key.id,
    hashedTenant: !inline,
    ageHours,
    idTime,
    idRandom: Buffer.from(input.messageId.slice(ID_TIME_DIGITS), 'hex'),
    recipientHash: keyedHash(key, 'r', normalizeRecipient(input.recipient), RECIPIENT_HASH_BYTES),
    tenant: inline ? input.tenant : keyedHash(key, 't', input.tenant, TENANT_HASH_BYTES),
  });
  signed.writeBytes(mac(key, signed));
  return `${VERP_LOCAL_PREFIX}${signed.toBase32()}@${domain}`;
}

/** Reads and verifies a VERP address. Never throws: any input gets a result. */
export function decodeVerp(address: unknown, keys: VerpKeySet, options: VerpDecodeOptions): VerpResult {
  try {
    return decode(address, keys, options);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

function decode(address: unknown, keys: VerpKeySet, options: VerpDecodeOptions): VerpResult {
  if (typeof address !== 'string' || address.length > MAX_INPUT_CHARS)
    return { ok: false, reason: 'not-verp' };
  const parts = splitAddress(address);
  const local = parts ? parts.local : address.trim().replace(/^<(.*)>$/, '$1');
  if (
    parts &&
    options.domain !== undefined &&
    comparableDomain(parts.domain) !== comparableDomain(options.domain)
  )
    return { ok: false, reason: 'not-verp' };
  if (local.slice(0, VERP_LOCAL_PREFIX.length).toLowerCase() !== VERP_LOCAL_PREFIX)
    return { ok: false, reason: 'not-verp' };
  const fields = parseToken(local.slice(VERP_LOCAL_PREFIX.length));
  if (!fields) return { ok: false, reason: 'malformed' };
  const candidates = keysWithId(keys, fields.keyId);
  if (candidates.length === 0) return { ok: false, reason: 'unknown-key' };
  const signed = signedPart(fields);
  const key = candidates.find((k) => timingSafeEqual(mac(k, signed), fields.mac));
  if (!key) return { ok: false, reason: 'forged' };
  const issuedAt = fields.idTime + fields.ageHours * MS_PER_HOUR;
  if (options.now - issuedAt > options.maxAgeMs) return { ok: false, reason: 'expired' };
  const recipientHash = fields.recipientHash;
  const decoded: VerpDecoded = {
    ok: true,
    tenant:
      typeof fields.tenant === 'string' ? fields.tenant : resolveTenant(key, fields.tenant, options.tenants),
    messageId: fields.idTime.toString(36).padStart(ID_TIME_DIGITS, '0') + fields.idRandom.toString('hex'),
    recipientHash: recipientHash.toString('hex'),
    issuedAt,
    keyId: key.id,
    matchesRecipient: (candidate) =>
      typeof candidate === 'string' &&
      timingSafeEqual(
        keyedHash(key, 'r', normalizeRecipient(candidate), RECIPIENT_HASH_BYTES),
        recipientHash,
      ),
    matchesTenant: (candidate) =>
      typeof fields.tenant === 'string'
        ? candidate === fields.tenant
        : typeof candidate === 'string' && resolveTenant(key, fields.tenant, [candidate]) !== undefined,
  };
  if (typeof fields.tenant !== 'string') decoded.tenantHash = fields.tenant.toString('hex');
  return decoded;
}

function resolveTenant(
  key: VerpKey,
  hash: Buffer,
  tenants: Iterable<string> | undefined,
): string | undefined {
  for (const tenant of tenants ?? [])
    if (timingSafeEqual(keyedHash(key, 't', tenant, TENANT_HASH_BYTES), hash)) return tenant;
  return undefined;
}

/** The token's fields, or undefined when it is not one Herald could have written. */
function parseToken(token: string): (Fields & { mac: Buffer }) | undefined {
  if (token.length > MAX_TOKEN_CHARS) return undefined;
  const r = BitReader.fromBase32(token);
  if (!r || r.bitLength < HEADER_BITS + MAC_BYTES * 8 + TENANT_CHAR_BITS) return undefined;
  if (r.read(VERSION_BITS) !== VERSION) return undefined;
  const keyId = r.read(KEY_ID_BITS);
  const hashedTenant = r.read(FORM_BITS) === 1;
  const ageHours = r.read(AGE_BITS);
  const idTime = r.read(ID_TIME_BITS);
  if (idTime >= 36 ** ID_TIME_DIGITS) return undefined;
  const idRandom = r.readBytes(ID_RANDOM_BYTES);
  const recipientHash = r.readBytes(RECIPIENT_HASH_BYTES);
  const tenantBits = r.remaining - MAC_BYTES * 8;
  let tenant: string | Buffer;
  if (hashedTenant) {
    if (tenantBits < TENANT_HASH_BYTES * 8 || tenantBits - TENANT_HASH_BYTES * 8 >= 5) return undefined;
    tenant = r.readBytes(TENANT_HASH_BYTES);
  } else {
    tenant = '';
    for (let n = Math.floor(tenantBits / TENANT_CHAR_BITS); n > 0; n--) {
      const ch = TENANT_ALPHABET[r.read(TENANT_CHAR_BITS)];
      if (ch === undefined) return undefined;
      tenant += ch;
    }
    if (!INLINE_TENANT.test(tenant)) return undefined;
  }
  const macBytes = r.readBytes(MAC_BYTES);
  // Padding must be zero: otherwise a changed last character could decode to the same token.
  if (r.remaining >= 5 || r.read(r.remaining) !== 0) return undefined;
  return { keyId, hashedTenant, ageHours, idTime, idRandom, recipientHash, tenant, mac: macBytes };
}
