/**
 * Message ids: time-ordered (sortable by acceptance) and unguessable, safe in keys and job ids:
 * 9 base-36 digits of time, then 16 hex digits whose first two name the message's queue shard
 * (shards.ts) and the other 14 are random (56 bits).
 */
import { randomBytes } from 'node:crypto';
import { domainAsWritten } from '../address/index.js';
import { shardHex } from './shards.js';

const RANDOM_BYTES = 8;
/** Random bytes fetched from the CSPRNG at once and handed out 8 at a time (one call per 512 ids). */
const RANDOM_POOL_BYTES = 4096;

let pool = Buffer.alloc(0);
let offset = 0;

function randomHex(): string {
  if (offset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(RANDOM_POOL_BYTES);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + RANDOM_BYTES);
  offset += RANDOM_BYTES;
  return hex;
}

/** A new message id in queue shard `shard` (0 on a single-shard queue). */
export function newMessageId(now = Date.now(), shard = 0): string {
  return now.toString(36).padStart(9, '0') + shardHex(shard) + randomHex().slice(2);
}

/** Lower-cased domain of an address as written (address/); '' when it has none. */
export function domainOf(address: string): string {
  return domainAsWritten(address);
}

/** Recipients grouped by destination domain, order of first appearance, duplicates dropped. */
export function groupByDomain(recipients: string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const address of recipients) {
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const domain = domainOf(address);
    const group = groups.get(domain);
    if (group) group.push(address);
    else groups.set(domain, [address]);
  }
  return groups;
}
