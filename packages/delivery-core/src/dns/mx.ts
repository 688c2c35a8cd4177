/**
 * Where mail for a domain goes: MX selection per RFC 5321 §5.1 and null MX per RFC 7505.
 *
 * Guarantees: hosts come out by ascending preference, equal preferences in random order, each
 * with its IPv4 then IPv6 addresses (A and AAAA asked concurrently, hosts concurrently); a null MX
 * fails with 556 5.1.10 before any address is asked; a domain that does not exist fails with
 * 550 5.1.2; no MX → the domain itself is the one implicit host (550 5.1.2 if it has no address);
 * hosts without addresses are dropped (550 5.4.4 if none remain); DNS trouble that leaves no usable
 * host is TransientError 451 4.4.3. At most MAX_MX_HOSTS hosts (the best preferences) with at most
 * MAX_ADDRESSES_PER_HOST addresses each. `resolveMxSet` also names the RRset (MxSet.names: by
 * preference then name, at most MAX_MX_HOSTS, before any shuffle or address lookup), which the
 * site of the destination is named after, so it is stable from attempt to attempt.
 * Needs: a `query` function (the cached, retrying lookup).
 */
import { PermanentError } from '../errors/index.js';
import { dnsTransient, domainMissing, noMxAddress, nullMx } from './failures.js';
import { toQueryName } from './names.js';
import { isIpAddress } from './servers.js';
import type { DnsAnswer, MxHost, MxSet, RecordType } from './types.js';

export type QueryFn = (name: string, type: RecordType) => Promise<DnsAnswer>;

const IMPLICIT_MX_PREFERENCE = 0;
/**
 * MX hosts whose addresses are looked up, best preference first: a delivery tries a few
 * addresses at most (delivery.mx_address_limit), so a hostile zone listing thousands of MX hosts
 * costs a bounded number of lookups.
 */
export const MAX_MX_HOSTS = 10;
/** Addresses kept per host name (A then AAAA). */
export const MAX_ADDRESSES_PER_HOST = 10;

function addressesOf(answer: DnsAnswer): string[] {
  return answer.answers.flatMap((r) => (r.type === 'A' || r.type === 'AAAA' ? [r.address] : []));
}

/**
 * A then AAAA addresses of `host` (an IP literal is returned as is). [] when the name does not
 * exist or has no address; throws TransientError only when nothing was found and a lookup failed.
 */
export async function resolveAddresses(query: QueryFn, host: string): Promise<string[]> {
  if (isIpAddress(host)) return [host];
  const results = await Promise.allSettled([query(host, 'A'), query(host, 'AAAA')]);
  const addresses: string[] = [];
  let failure: unknown;
  for (const result of results) {
    if (result.status === 'fulfilled') addresses.push(...addressesOf(result.value));
    else failure ??= result.reason;
  }
  if (addresses.length === 0 && failure !== undefined) throw failure;
  return [...new Set(addresses)].slice(0, MAX_ADDRESSES_PER_HOST);
}

/** Sorts by preference, shuffling ties (Fisher–Yates) with `random`; keeps each exchange once. */
export function orderByPreference<T extends { preference: number; exchange: string }>(
  records: T[],
  random: () => number = Math.random,
): T[] {
  const shuffled = [...records];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const sorted = shuffled.sort((a, b) => a.preference - b.preference); // stable: ties keep shuffle order
  const seen = new Set<string>();
  return sorted.filter((r) => {
    if (seen.has(r.exchange)) return false;
    seen.add(r.exchange);
    return true;
  });
}

/**
 * The RRset's names by preference then name, each once (at its best preference), the first
 * MAX_MX_HOSTS: deterministic, unlike `orderByPreference`'s shuffle of ties.
 */
export function mxNames(records: readonly { preference: number; exchange: string }[]): string[] {
  const sorted = [...records].sort(
    (a, b) => a.preference - b.preference || (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0),
  );
  return [...new Set(sorted.map((r) => r.exchange))].slice(0, MAX_MX_HOSTS);
}

function isNullExchange(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

async function implicitMx(query: QueryFn, domain: string): Promise<MxHost[]> {
  const addresses = await resolveAddresses(query, domain);
  if (addresses.length === 0) throw domainMissing(domain, 'has no MX and no address records');
  return [{ exchange: domain, preference: IMPLICIT_MX_PREFERENCE, addresses, implicit: true }];
}

export async function resolveMx(query: QueryFn, domain: string): Promise<MxHost[]> {
  return (await resolveMxSet(query, domain)).hosts;
}

export async function resolveMxSet(query: QueryFn, domain: string): Promise<MxSet> {
  const name = toQueryName(domain);
  if (name === undefined) throw domainMissing(domain, 'is not a valid domain name');
  const mx = await query(name, 'MX');
  if (mx.rcode === 'NXDOMAIN') throw domainMissing(name);
  const records = mx.answers.flatMap((r) => (r.type === 'MX' ? [r] : []));
  if (records.length === 0) return { hosts: await implicitMx(query, name), names: [name] };
  // RFC 7505: a null MX is the only MX; if a domain also lists real hosts, use those.
  const usable = records.filter((r) => !isNullExchange(r.exchange));
  if (usable.length === 0) throw nullMx(name);
  return { hosts: await mxHosts(query, name, usable), names: mxNames(usable) };
}

/** The best MAX_MX_HOSTS hosts of `usable` (ties shuffled), those with addresses. */
async function mxHosts(
  query: QueryFn,
  name: string,
  usable: readonly { preference: number; exchange: string }[],
): Promise<MxHost[]> {
  const ordered = orderByPreference([...usable]).slice(0, MAX_MX_HOSTS);
  const results = await Promise.allSettled(ordered.map((r) => resolveAddresses(query, r.exchange)));
  const hosts: MxHost[] = [];
  let transient: unknown;
  results.forEach((result, i) => {
    const record = ordered[i]!;
    if (result.status === 'fulfilled') {
      if (result.value.length > 0) {
        hosts.push({
          exchange: record.exchange,
          preference: record.preference,
          addresses: result.value,
          implicit: false,
        });
      }
    } else if (!(result.reason instanceof PermanentError)) {
      transient ??= result.reason;
    }
  });
  if (hosts.length > 0) return hosts;
  if (transient !== undefined) {
    const why = transient instanceof Error ? transient.message : String(transient);
    throw dnsTransient(`no MX host of ${name} could be resolved: ${why}`, transient);
  }
  throw noMxAddress(name);
}
