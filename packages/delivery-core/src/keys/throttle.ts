/**
 * The throttle primitives' key spaces. Each primitive's Lua script touches one key, so none needs
 * a hash tag; the name inside comes from the caller (shaping.ts names them for shaping).
 * Pure key math.
 */

/** A GCRA rate's TAT (string): `<prefix>:gcra:<name>`. */
export function gcraKey(prefix: string, name: string): string {
  return `${prefix}:gcra:${name}`;
}

/** A leased semaphore (sorted set of leases): `<prefix>:sem:<name>`. */
export function semaphoreKey(prefix: string, name: string): string {
  return `${prefix}:sem:${name}`;
}

/** A capped counter (string): `<prefix>:cap:<name>`. */
export function capKey(prefix: string, name: string): string {
  return `${prefix}:cap:${name}`;
}
