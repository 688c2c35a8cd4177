/**
 * One page of a tenant's suppression list with a filter (address prefix or substring, reason),
 * on the list's HSCAN pages: whole scan pages are read until about `limit` entries matched, the
 * scan ended, or MAX_SCAN_CALLS pages were read (a filter that matches little still answers
 * quickly: the page is then short, or empty, with a `next` to go on). An entry may repeat across
 * pages (HSCAN's guarantee); none present throughout the paging is missed.
 */
import type { SuppressionEntry, SuppressionList } from '@herald/delivery-core/suppression';

/** Scan pages read per request at most. */
export const MAX_SCAN_CALLS = 20;
/** The HSCAN cursor of a scan's start and end. */
const SCAN_DONE = '0';

export interface SuppressionFilter {
  prefix?: string | undefined;
  contains?: string | undefined;
  reason?: string | undefined;
}

export interface SuppressionSearchPage {
  entries: SuppressionEntry[];
  /** Absent when the scan is complete. */
  next?: string;
}

export async function searchSuppressions(
  list: SuppressionList,
  tenant: string,
  filter: SuppressionFilter,
  page: { cursor?: string | undefined; limit: number },
): Promise<SuppressionSearchPage> {
  const prefix = filter.prefix?.toLowerCase();
  const contains = filter.contains?.toLowerCase();
  const keep = (e: SuppressionEntry) =>
    (prefix === undefined || e.address.startsWith(prefix)) &&
    (contains === undefined || e.address.includes(contains)) &&
    (filter.reason === undefined || e.reason === filter.reason);
  const entries: SuppressionEntry[] = [];
  let cursor = page.cursor ?? SCAN_DONE;
  for (let calls = 0; calls < MAX_SCAN_CALLS; calls++) {
    const scanned = await list.list(tenant, { cursor, count: page.limit });
    entries.push(...scanned.entries.filter(keep));
    cursor = scanned.cursor;
    if (cursor === SCAN_DONE || entries.length >= page.limit) break;
  }
  return cursor === SCAN_DONE ? { entries } : { entries, next: cursor };
}
