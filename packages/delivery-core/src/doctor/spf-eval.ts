/**
 * SPF over a DnsView: `checkHost` evaluates one IP as a receiver would (RFC 7208 §4, with the
 * 10-lookup and 2-void-lookup limits counted during evaluation), and `analyseSpf` walks the whole
 * include/redirect tree to count every lookup the record can cost, whatever the IP. Pure.
 */
import { isIP } from 'node:net';
import { lowerDomain as normaliseName } from '../address/index.js';
import { inCidr } from '../config/index.js';
import { reverseName } from './names.js';
import { addressesOf, ptrNamesOf, txtOf } from './snapshot.js';
import {
  expandMacros,
  LOOKUP_MECHANISMS,
  MAX_SPF_LOOKUPS,
  MAX_SPF_NAME_LOOKUPS,
  MAX_SPF_VOID_LOOKUPS,
  type MacroContext,
  parseSpfRecord,
  type SpfMechanism,
  type SpfQualifier,
  type SpfRecord,
  spfRecordsOf,
} from './spf-record.js';
import type { DnsView } from './types.js';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

export interface SpfVerdict {
  result: SpfResult;
  /** The mechanism that matched, or why the result is an error. */
  why: string;
}

const QUALIFIER_RESULT: Record<SpfQualifier, SpfResult> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

/** The domain's one SPF record, or why there is none usable. */
export function fetchSpfRecord(
  view: DnsView,
  domain: string,
): { record: SpfRecord; text: string } | { result: 'none' | 'permerror' | 'temperror'; why: string } {
  const lookup = view.get(domain, 'TXT');
  if (lookup.kind === 'error') return { result: 'temperror', why: lookup.message };
  const records = spfRecordsOf(txtOf(lookup));
  if (records.length === 0) return { result: 'none', why: `${domain} has no v=spf1 record` };
  if (records.length > 1)
    return { result: 'permerror', why: `${domain} has ${records.length} v=spf1 records` };
  const record = parseSpfRecord(records[0]!);
  if (typeof record === 'string') return { result: 'permerror', why: `${domain}: ${record}` };
  return { record, text: records[0]! };
}

class Evaluation {
  lookups = 0;
  voids = 0;
  constructor(
    private readonly view: DnsView,
    private readonly ip: string,
    private readonly ctx: Omit<MacroContext, 'domain'>,
  ) {}

  private target(m: SpfMechanism, domain: string): string {
    return m.domain === undefined ? domain : expandMacros(m.domain, { ...this.ctx, domain });
  }

  private addresses(host: string): string[] | SpfVerdict {
    const type = isIP(this.ip) === 6 ? 'AAAA' : 'A';
    const lookup = this.view.get(host, type);
    if (lookup.kind === 'error') return { result: 'temperror', why: lookup.message };
    return addressesOf(lookup);
  }

  private void(records: number): SpfVerdict | undefined {
    if (records > 0) return undefined;
    this.voids++;
    if (this.voids > MAX_SPF_VOID_LOOKUPS)
      return { result: 'permerror', why: `more than ${MAX_SPF_VOID_LOOKUPS} void lookups` };
    return undefined;
  }

  private inNetwork(addresses: string[], m: SpfMechanism): boolean {
    const prefix = isIP(this.ip) === 6 ? m.cidr6 : m.cidr4;
    return addresses.some((a) => inCidr(this.ip, a, prefix));
  }

  /** true/false for match/no match, or a verdict that ends the evaluation. */
  private matches(m: SpfMechanism, domain: string, depth: number): boolean | SpfVerdict {
    const target = this.target(m, domain);
    if (target.startsWith('!')) return { result: 'permerror', why: `${m.text}: ${target.slice(1)}` };
    switch (m.kind) {
      case 'all':
        return true;
      case 'ip4':
      case 'ip6':
        return inCidr(this.ip, m.ip!, m.kind === 'ip4' ? m.cidr4 : m.cidr6);
      case 'include': {
        const inner = this.check(target, depth + 1);
        if (inner.result === 'pass') return true;
        if (inner.result === 'temperror') return inner;
        if (inner.result === 'permerror' || inner.result === 'none')
          return { result: 'permerror', why: `${m.text}: ${inner.why}` };
        return false;
      }
      case 'a': {
        const addresses = this.addresses(target);
        if (!Array.isArray(addresses)) return addresses;
        return this.void(addresses.length) ?? this.inNetwork(addresses, m);
      }
      case 'mx': {
        const lookup = this.view.get(target, 'MX');
        if (lookup.kind === 'error') return { result: 'temperror', why: lookup.message };
        const hosts = lookup.records.flatMap((r) =>
          r.type === 'MX' && r.exchange !== '' ? [r.exchange] : [],
        );
        const voided = this.void(hosts.length);
        if (voided) return voided;
        if (hosts.length > MAX_SPF_NAME_LOOKUPS)
          return { result: 'permerror', why: `${m.text}: more than ${MAX_SPF_NAME_LOOKUPS} MX hosts` };
        for (const host of hosts) {
          const addresses = this.addresses(host);
          if (Array.isArray(addresses) && this.inNetwork(addresses, m)) return true;
        }
        return false;
      }
      case 'ptr':
        return validatedNames(this.view, this.ip).some((n) => n === target || n.endsWith(`.${target}`));
      case 'exists': {
        const lookup = this.view.get(target, 'A');
        if (lookup.kind === 'error') return { result: 'temperror', why: lookup.message };
        const found = addressesOf(lookup).length;
        return this.void(found) ?? found > 0;
      }
    }
  }

  check(domain: string, depth: number): SpfVerdict {
    if (depth > MAX_SPF_LOOKUPS) return { result: 'permerror', why: 'include/redirect loop' };
    const fetched = fetchSpfRecord(this.view, domain);
    if (!('record' in fetched)) return { result: fetched.result, why: fetched.why };
    const { record } = fetched;
    for (const m of record.mechanisms) {
      if (LOOKUP_MECHANISMS.has(m.kind) && ++this.lookups > MAX_SPF_LOOKUPS)
        return { result: 'permerror', why: `more than ${MAX_SPF_LOOKUPS} DNS lookups` };
      const match = this.matches(m, domain, depth);
      if (match === true) return { result: QUALIFIER_RESULT[m.qualifier], why: `${domain}: ${m.text}` };
      if (match !== false) return match;
    }
    if (record.redirect === undefined) return { result: 'neutral', why: `${domain}: no mechanism matched` };
    if (++this.lookups > MAX_SPF_LOOKUPS)
      return { result: 'permerror', why: `more than ${MAX_SPF_LOOKUPS} DNS lookups` };
    const target = expandMacros(record.redirect, { ...this.ctx, domain });
    const inner = this.check(target, depth + 1);
    if (inner.result === 'none') return { result: 'permerror', why: `redirect=${target}: ${inner.why}` };
    return inner;
  }
}

/** PTR names of `ip` that resolve back to it (at most MAX_SPF_NAME_LOOKUPS of them are tried). */
export function validatedNames(view: DnsView, ip: string): string[] {
  const reverse = reverseName(ip);
  if (!reverse) return [];
  const type = isIP(ip) === 6 ? 'AAAA' : 'A';
  return ptrNamesOf(view.get(reverse, 'PTR'))
    .slice(0, MAX_SPF_NAME_LOOKUPS)
    .filter((name) => addressesOf(view.get(name, type)).some((a) => inCidr(ip, a, undefined)));
}

/** check_host(ip, domain, sender) as a receiver computes it; sender defaults to postmaster@domain. */
export function checkHost(
  view: DnsView,
  ip: string,
  domain: string,
  sender = `postmaster@${domain}`,
): SpfVerdict {
  return new Evaluation(view, ip, { ip, sender, helo: domain }).check(normaliseName(domain), 0);
}

export interface SpfAnalysis {
  /** DNS-querying terms in the whole tree (include, a, mx, ptr, exists, redirect). */
  lookups: number;
  /** Terms whose lookup found nothing (a, mx, include without a record). */
  voids: string[];
  /** Errors anywhere in the tree (missing or duplicate records in includes, syntax, loops). */
  problems: string[];
  /** Terms with macros, counted but not followed. */
  unfollowed: string[];
  /** `ptr` terms (discouraged, RFC 7208 §5.5). */
  ptrTerms: string[];
}

/** Counts every lookup the record tree of `domain` can cost, following includes and redirect. */
export function analyseSpf(view: DnsView, domain: string): SpfAnalysis {
  const out: SpfAnalysis = { lookups: 0, voids: [], problems: [], unfollowed: [], ptrTerms: [] };
  const walk = (name: string, path: string[]): void => {
    if (path.includes(name)) return void out.problems.push(`loop: ${[...path, name].join(' → ')}`);
    if (path.length > MAX_SPF_LOOKUPS) return;
    const fetched = fetchSpfRecord(view, name);
    if (!('record' in fetched)) {
      if (path.length > 0) out.problems.push(`${path.at(-1)} → ${name}: ${fetched.why}`);
      return;
    }
    const { record } = fetched;
    const follow = (term: string, spec: string) => {
      out.lookups++;
      if (spec.includes('%')) return void out.unfollowed.push(term);
      walk(normaliseName(spec), [...path, name]);
    };
    for (const m of record.mechanisms) {
      if (!LOOKUP_MECHANISMS.has(m.kind)) continue;
      const spec = m.domain ?? name;
      if (m.kind === 'include') {
        follow(`include:${spec}`, spec);
        continue;
      }
      out.lookups++;
      if (m.kind === 'ptr') out.ptrTerms.push(`${name}: ${m.text}`);
      if (spec.includes('%')) {
        out.unfollowed.push(`${name}: ${m.text}`);
        continue;
      }
      if (m.kind === 'a') {
        const found = addressesOf(view.get(spec, 'A')).length + addressesOf(view.get(spec, 'AAAA')).length;
        if (found === 0) out.voids.push(`${name}: ${m.text}`);
      } else if (m.kind === 'mx') {
        const mx = view.get(spec, 'MX');
        const hosts = mx.kind === 'answer' ? mx.records.filter((r) => r.type === 'MX') : [];
        if (hosts.length === 0) out.voids.push(`${name}: ${m.text}`);
        if (hosts.length > MAX_SPF_NAME_LOOKUPS)
          out.problems.push(
            `${name}: ${m.text} has ${hosts.length} MX hosts (at most ${MAX_SPF_NAME_LOOKUPS})`,
          );
      }
    }
    const hasAll = record.mechanisms.some((m) => m.kind === 'all');
    if (record.redirect !== undefined && !hasAll) follow(`redirect=${record.redirect}`, record.redirect);
  };
  walk(normaliseName(domain), []);
  return out;
}
