/**
 * SCAN by pattern over the whole keyspace: every master of a cluster in turn (each holds only
 * its slots' keys), or the one server. Keys come in batches as SCAN returns them; a key may
 * repeat (SCAN's own guarantee), a key written during the scan may be missed.
 */
import { masters, type RedisClient } from './client.js';

/** Keys a SCAN call looks at (a hint to Redis). */
export const SCAN_COUNT = 200;

/** Every key matching `pattern`, batch by batch, on every master. */
export async function* scanKeys(
  redis: RedisClient,
  pattern: string,
  count = SCAN_COUNT,
): AsyncGenerator<string[]> {
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}
