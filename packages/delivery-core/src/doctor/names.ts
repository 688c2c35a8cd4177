/**
 * Names the doctor derives: the reverse-DNS name of an IP (in-addr.arpa / ip6.arpa nibbles), the
 * hex digits of an IPv6 address, and a domain as given on the command line. The organizational
 * domain and DMARC alignment are sender/alignment.ts's (intake uses them too).
 */
import { isIP } from 'node:net';
import { asciiDomain } from '../address/index.js';
import { ipv6Words } from '../config/index.js';

/** The PTR query name of an IPv4 or IPv6 address; undefined for anything else. */
export function reverseName(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) return undefined;
  return `${ipv6Hex(ip).split('').reverse().join('.')}.ip6.arpa`;
}

/** The 32 lower-case hex digits of an IPv6 address (its nibbles, most significant first). */
export function ipv6Hex(ip: string): string {
  return ipv6Words(ip)
    .map((word) => word.toString(16).padStart(4, '0'))
    .join('');
}

const MAX_NAME_OCTETS = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A domain as the doctor checks it (lower-case A-labels, no trailing dot), or undefined when invalid. */
export function normaliseDomain(text: string): string | undefined {
  const name = asciiDomain(text.trim().replace(/\.+$/, ''));
  if (name === undefined || name === '' || name.length > MAX_NAME_OCTETS || !name.includes('.'))
    return undefined;
  return name.split('.').every((label) => LABEL.test(label)) ? name : undefined;
}
