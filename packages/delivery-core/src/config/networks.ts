/**
 * Herald's one CIDR matcher, on node:net BlockList: validating CIDRs / single addresses (IPv4 and
 * IPv6) of trusted_networks and the door's exceptions and checking a client address against them
 * (IPv4-mapped IPv6 clients, "::ffff:1.2.3.4", are checked as the IPv4 address they carry);
 * `inCidr` for one network (the doctor's SPF ip4 / ip6 / a / mx terms); `ipv6Words` (the eight
 * 16-bit words of an IPv6 address: the door's /64 keys, the doctor's ip6.arpa names). Pure.
 */
import { BlockList, isIP } from 'node:net';

const IPV4_BITS = 32;
const IPV6_BITS = 128;
const IPV4_MAPPED_PREFIX = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Strips an IPv6 zone ("fe80::1%eth0") and unwraps IPv4-mapped IPv6 addresses. */
export function normalizeIp(ip: string): string {
  const unzoned = ip.trim().replace(/%.*$/, '');
  const mapped = IPV4_MAPPED_PREFIX.exec(unzoned);
  return mapped ? mapped[1]! : unzoned;
}

/** Parses "10.0.0.0/8", "192.0.2.7", "2001:db8::/32" or "::1"; throws RangeError otherwise. */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new RangeError('expected a CIDR like 10.0.0.0/8 or an IP address');
  const [rawAddress = '', rawPrefix, ...extra] = s.trim().split('/');
  const address = normalizeIp(rawAddress);
  const version = isIP(address);
  if (version === 0 || extra.length > 0 || rawAddress.includes('%')) {
    throw new RangeError(`${JSON.stringify(s)} is not a CIDR like 10.0.0.0/8 or an IP address`);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const maxBits = version === 4 ? IPV4_BITS : IPV6_BITS;
  // "::ffff:10.0.0.0/104" is the IPv4 network 10.0.0.0/8 written in IPv6 form.
  const mappedBits = address !== rawAddress.trim() ? IPV6_BITS - IPV4_BITS : 0;
  if (rawPrefix === undefined) return { address, prefix: maxBits, family };
  const prefix = Number(rawPrefix) - mappedBits;
  if (!/^\d{1,3}$/.test(rawPrefix) || prefix < 0 || prefix > maxBits) {
    throw new RangeError(`${JSON.stringify(s)}: prefix length must be ${mappedBits}–${maxBits + mappedBits}`);
  }
  return { address, prefix, family };
}

/** Builds a checker for a list of CIDRs (validated; throws RangeError on a bad entry). */
/** Client addresses whose trusted/untrusted answer is remembered (cleared when full). */
const TRUSTED_ANSWERS_MAX = 10_000;

export function compileTrustedNetworks(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const entry of cidrs) {
    const { address, prefix, family } = parseCidr(entry);
    list.addSubnet(address, prefix, family);
  }
  // Clients repeat: each session asks at MAIL and every RCPT. Remember answers per address.
  const answers = new Map<string, boolean>();
  return (ip: string) => {
    const known = answers.get(ip);
    if (known !== undefined) return known;
    const address = normalizeIp(ip);
    const version = isIP(address);
    const trusted = version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
    if (answers.size >= TRUSTED_ANSWERS_MAX) answers.clear();
    answers.set(ip, trusted);
    return trusted;
  };
}

/**
 * True when `ip` lies in `network/prefix`, both of one address family (an IPv4 address never
 * matches an IPv6 network, mapped or not); the prefix defaults to a host route.
 */
export function inCidr(ip: string, network: string, prefix: number | undefined): boolean {
  const family = isIP(ip);
  if (family === 0 || family !== isIP(network)) return false;
  const bits = family === 4 ? IPV4_BITS : IPV6_BITS;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  try {
    list.addSubnet(network, Math.max(0, Math.min(prefix ?? bits, bits)), type);
    return list.check(ip, type);
  } catch {
    return false;
  }
}

const IPV6_WORDS = 8;

/** The eight 16-bit words of a valid IPv6 address (isIP said 6), an embedded IPv4 tail included. */
export function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail ("64:ff9b::192.0.2.1") is the last two words.
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array<string>(IPV6_WORDS - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((word) => Number.parseInt(word, 16));
}

/** True when `ip` lies in one of `cidrs`. An unparseable ip is never trusted. */
export function isTrusted(ip: string, cidrs: readonly string[]): boolean {
  return compileTrustedNetworks(cidrs)(ip);
}
