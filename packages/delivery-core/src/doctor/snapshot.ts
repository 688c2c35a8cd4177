/**
 * DNS data for the doctor's checks, looked up before they judge anything.
 *
 * The checks are pure functions over a `DnsView`. `gatherDns` runs them over a `DnsSnapshot`:
 * every name a check asks for that is not in the snapshot yet is answered as empty and noted;
 * those names are then looked up (concurrently, through Herald's resolver) and the checks run
 * again, until a run asks for nothing new. The last run's results are the verdict, so a check
 * never sees a half-gathered answer. `viewOfZone` answers from a literal zone (unit tests).
 */

import { lowerDomain as normaliseName } from '../address/index.js';
import type { DnsRecord, RecordType, Resolver } from '../dns/index.js';
import type { DnsView, Lookup } from './types.js';

/** Rounds of look-ups at most: SPF include chains are at most 10 deep, plus the A/PTR steps. */
export const MAX_GATHER_ROUNDS = 24;
/**
 * Look-ups in flight at once. The resolver hangs one abort listener per exchange on a shared
 * signal, and Node warns past 10 listeners.
 */
export const GATHER_CONCURRENCY = 8;

const EMPTY: Lookup = { kind: 'answer', rcode: 'NOERROR', records: [] };

function keyOf(name: string, type: RecordType): string {
  return `${type} ${normaliseName(name)}`;
}

export class DnsSnapshot implements DnsView {
  private readonly data = new Map<string, Lookup>();
  private readonly misses = new Map<string, { name: string; type: RecordType }>();

  get(name: string, type: RecordType): Lookup {
    const key = keyOf(name, type);
    const found = this.data.get(key);
    if (found) return found;
    this.misses.set(key, { name: normaliseName(name), type });
    return EMPTY;
  }

  put(name: string, type: RecordType, lookup: Lookup): void {
    this.data.set(keyOf(name, type), lookup);
  }

  /** The names asked for but not looked up, emptied by the call. */
  takeMissing(): { name: string; type: RecordType }[] {
    const out = [...this.misses.values()];
    this.misses.clear();
    return out;
  }

  /** Lookups held, for --json details and tests. */
  get size(): number {
    return this.data.size;
  }
}

async function lookUp(resolver: Resolver, name: string, type: RecordType): Promise<Lookup> {
  try {
    const answer = await resolver.query(name, type);
    const rcode = answer.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NOERROR';
    return {
      kind: 'answer',
      rcode,
      records: answer.answers,
      ...(answer.authenticated ? { authenticated: true } : {}),
    };
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
}

/** Runs `judge` until it asks for no DNS data it has not got, and returns its last result. */
export async function gatherDns<T>(resolver: Resolver, judge: (view: DnsView) => T): Promise<T> {
  const snapshot = new DnsSnapshot();
  for (let round = 0; ; round++) {
    const result = judge(snapshot);
    const missing = snapshot.takeMissing();
    if (missing.length === 0 || round >= MAX_GATHER_ROUNDS) return result;
    const queue = [...missing];
    const worker = async () => {
      for (let m = queue.shift(); m; m = queue.shift())
        snapshot.put(m.name, m.type, await lookUp(resolver, m.name, m.type));
    };
    await Promise.all(Array.from({ length: Math.min(GATHER_CONCURRENCY, queue.length) }, worker));
  }
}

/** Records of one name in a literal zone; `error` answers every type with a failed lookup. */
export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { preference: number; exchange: string }[];
  TXT?: string[];
  PTR?: string[];
  CNAME?: string;
  TLSA?: { usage: number; selector: number; matchingType: number; data: string }[];
  /** Every answer of this name carries AD (a signed zone, a validating resolver). */
  secure?: boolean;
  error?: string;
}

/** A view of a literal zone: absent names are NXDOMAIN, present names without the type NODATA. */
export function viewOfZone(zone: Record<string, ZoneRecords>): DnsView {
  const entries = new Map(Object.entries(zone).map(([name, records]) => [normaliseName(name), records]));
  return {
    get(name, type) {
      const entry = entries.get(normaliseName(name));
      if (!entry) return { kind: 'answer', rcode: 'NXDOMAIN', records: [] };
      if (entry.error !== undefined) return { kind: 'error', message: entry.error };
      const records = recordsOf(entry, type);
      return { kind: 'answer', rcode: 'NOERROR', records, ...(entry.secure ? { authenticated: true } : {}) };
    },
  };
}

function recordsOf(entry: ZoneRecords, type: RecordType): DnsRecord[] {
  switch (type) {
    case 'A':
    case 'AAAA':
      return (entry[type] ?? []).map((address) => ({ type, address }));
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({ type: 'MX', ...mx, exchange: normaliseName(mx.exchange) }));
    case 'TXT':
      return (entry.TXT ?? []).map((text) => ({ type: 'TXT', text }));
    case 'PTR':
      return (entry.PTR ?? []).map((name) => ({ type: 'PTR', name: normaliseName(name) }));
    case 'CNAME':
      return entry.CNAME === undefined ? [] : [{ type: 'CNAME', name: normaliseName(entry.CNAME) }];
    case 'TLSA':
      return (entry.TLSA ?? []).map((r) => ({ type: 'TLSA', ...r }));
  }
}

/** TXT strings of a lookup ([] for errors and negative answers). */
export function txtOf(lookup: Lookup): string[] {
  if (lookup.kind !== 'answer') return [];
  return lookup.records.flatMap((r) => (r.type === 'TXT' ? [r.text] : []));
}

/** Addresses (A or AAAA records) of a lookup. */
export function addressesOf(lookup: Lookup): string[] {
  if (lookup.kind !== 'answer') return [];
  return lookup.records.flatMap((r) => (r.type === 'A' || r.type === 'AAAA' ? [r.address] : []));
}

/** Names of PTR records of a lookup. */
export function ptrNamesOf(lookup: Lookup): string[] {
  if (lookup.kind !== 'answer') return [];
  return lookup.records.flatMap((r) => (r.type === 'PTR' ? [normaliseName(r.name)] : []));
}
