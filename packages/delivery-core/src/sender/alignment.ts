/**
 * DMARC identifier alignment (RFC 7489 §3.1) and the organizational domain it rests on, shared by
 * intake (sender/dmarc.ts) and `herald doctor`. Pure.
 *
 * Simplification (documented in the doctor's output): the organizational domain is the last two
 * labels, or three when the last two are a common second-level public suffix (SECOND_LEVEL_SUFFIXES,
 * e.g. co.uk); the full Public Suffix List is not consulted. Domains are compared in A-label form
 * (address/), so a U-label and its A-label align.
 */
import { comparableDomain } from '../address/index.js';

/** Second-level suffixes under which registrations happen one label further down. */
export const SECOND_LEVEL_SUFFIXES: ReadonlySet<string> = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'me.uk',
  'ltd.uk',
  'plc.uk',
  'net.uk',
  'com.au',
  'net.au',
  'org.au',
  'edu.au',
  'gov.au',
  'co.nz',
  'org.nz',
  'net.nz',
  'co.jp',
  'ne.jp',
  'or.jp',
  'ac.jp',
  'go.jp',
  'co.kr',
  'or.kr',
  'com.br',
  'net.br',
  'org.br',
  'com.cn',
  'net.cn',
  'org.cn',
  'co.in',
  'net.in',
  'org.in',
  'co.za',
  'org.za',
  'com.mx',
  'com.ar',
  'com.tr',
  'com.tw',
  'com.hk',
  'com.sg',
  'com.my',
  'co.il',
  'co.id',
  'co.th',
]);

/** The organizational domain (see the header for the simplification). */
export function organizationalDomain(domain: string): string {
  const labels = comparableDomain(domain.replace(/\.+$/, '')).split('.');
  if (labels.length <= 2) return labels.join('.');
  const lastTwo = labels.slice(-2).join('.');
  return labels.slice(SECOND_LEVEL_SUFFIXES.has(lastTwo) ? -3 : -2).join('.');
}

/** DMARC alignment of an authenticated domain with the From domain: `r` relaxed, `s` strict. */
export function aligned(identifier: string, fromDomain: string, mode: 'r' | 's'): boolean {
  const a = comparableDomain(identifier);
  const b = comparableDomain(fromDomain);
  if (mode === 's') return a === b;
  return organizationalDomain(a) === organizationalDomain(b);
}
