/**
 * Names the doctor derives: the reverse-DNS name of an IP (in-addr.arpa / ip6.arpa nibbles), the
 * organizational domain of a name, and DMARC identifier alignment.
 *
 * Simplification (documented in the doctor's output): the organizational domain is the last two
 * labels, or three when the last two are a common second-level public suffix (SECOND_LEVEL_SUFFIXES,
 * e.g. co.uk); the full Public Suffix List is not consulted.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

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

/** The PTR query name of an IPv4 or IPv6 address; undefined for anything else. */
export function reverseName(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) return undefined;
  const nibbles = expandIpv6(ip).replace(/:/g, '').split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** The full form of an IPv6 address: eight groups of four lower-case hex digits. */
export function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, '0')).join(':');
}

/** The organizational domain (see the header for the simplification). */
export function organizationalDomain(domain: string): string {
  const labels = domain.toLowerCase().replace(/\.+$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const lastTwo = labels.slice(-2).join('.');
  return labels.slice(SECOND_LEVEL_SUFFIXES.has(lastTwo) ? -3 : -2).join('.');
}

/** DMARC alignment of an authenticated domain with the From domain: `r` relaxed, `s` strict. */
export function aligned(identifier: string, fromDomain: string, mode: 'r' | 's'): boolean {
  const a = identifier.toLowerCase();
  const b = fromDomain.toLowerCase();
  if (mode === 's') return a === b;
  return organizationalDomain(a) === organizationalDomain(b);
}

const MAX_NAME_OCTETS = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A domain as the doctor checks it (lower-case A-labels, no trailing dot), or undefined when invalid. */
export function normaliseDomain(text: string): string | undefined {
  const name = domainToASCII(text.trim().replace(/\.+$/, '')).toLowerCase();
  if (name === '' || name.length > MAX_NAME_OCTETS || !name.includes('.')) return undefined;
  return name.split('.').every((label) => LABEL.test(label)) ? name : undefined;
}
