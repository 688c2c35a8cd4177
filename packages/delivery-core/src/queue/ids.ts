/** Message ids: time-ordered (sortable by acceptance) and unguessable, safe in keys and job ids. */
import { randomBytes } from 'node:crypto';
import { domainAsWritten } from '../address/index.js';

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

export function newMessageId(now = Date.now()): string {
  return now.toString(36).padStart(9, '0') + randomHex();
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
