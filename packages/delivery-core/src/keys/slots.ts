/**
 * Redis Cluster key slots, per the cluster specification: a key's slot is CRC16 (XMODEM:
 * polynomial 0x1021, initial value 0) of its hash tag modulo 16384; the hash tag is the text
 * between the first `{` and the first `}` after it, when that text is not empty, else the whole
 * key. Keys that one Lua script or one MULTI touches must share a slot; the registry's tests check
 * every such operation with `hashSlot`. Pure.
 */

/** Slots in a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

const CRC16_POLYNOMIAL = 0x1021;

/** CRC16-CCITT (XMODEM) of `bytes`, as Redis Cluster computes it. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ CRC16_POLYNOMIAL) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The part of `key` that is hashed: its hash tag, or the whole key when it has none. */
export function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** The cluster slot of `key` (0 … 16383). */
export function hashSlot(key: string): number {
  return crc16(Buffer.from(hashedPart(key), 'utf8')) % CLUSTER_SLOTS;
}
