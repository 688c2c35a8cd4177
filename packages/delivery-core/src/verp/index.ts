/**
 * VERP return paths: `bounces+<token>@<bounce domain>` per (tenant, message, recipient), so a
 * bounce or complaint that comes back names what it is about even when its text does not.
 *
 * Owns: the token layout (token.ts: 2-bit version, 6-bit key id, issue hour, the message id,
 * a 32-bit keyed recipient hash, the tenant inline or hashed, a 64-bit truncated HMAC-SHA256;
 * lower-case base32, so case changes by MTAs do not matter) and the rotating key set (keys.ts).
 * Guarantees: the local part is at most 64 octets for any recipient and tenant; `decodeVerp`
 * never throws and tells forged, altered (`forged`/`malformed`), expired and unknown-key tokens
 * apart; secrets are compared in constant time. Pure: no I/O, the clock is passed in.
 * Needs: the secrets (`bounce.verp_secret`, `bounce.verp_previous_secrets`).
 */
import type { HeraldConfig } from '../config/index.js';
import { type VerpKeySet, verpKeys } from './keys.js';

export { BASE32_ALPHABET } from './bits.js';
export { KEY_ID_BITS, type VerpKey, type VerpKeySet, verpKeyId, verpKeys } from './keys.js';
export {
  carriesTenantInline,
  decodeVerp,
  encodeVerp,
  MAX_INLINE_TENANT_CHARS,
  MAX_LOCAL_PART_OCTETS,
  VERP_LOCAL_PREFIX,
  type VerpDecoded,
  type VerpDecodeOptions,
  type VerpFailure,
  type VerpInput,
  type VerpResult,
} from './token.js';

export interface VerpSettings {
  keys: VerpKeySet;
  domain: string;
  maxAgeMs: number;
}

/** VERP settings of a config; undefined when it has no `bounce` section (VERP off). */
export function verpSettings(config: Pick<HeraldConfig, 'bounce'>): VerpSettings | undefined {
  const bounce = config.bounce;
  if (!bounce) return undefined;
  return {
    keys: verpKeys(bounce.verp_secret, bounce.verp_previous_secrets),
    domain: bounce.domain,
    maxAgeMs: bounce.verp_max_age,
  };
}
