/**
 * The key a client is counted under at the door: an IPv4 address as itself (an IPv4-mapped IPv6
 * address is unwrapped first), an IPv6 address as its network of `ipv6PrefixBits` leading bits
 * written in full ("2001:db8:0:1:0:0:0:0/64"), so one host cannot dodge a limit by hopping
 * between the addresses of its /64. Anything that is not an IP address is kept as it is, cut to
 * MAX_KEY_CHARS. Pure; linear in the input.
 */
import { isIP } from 'node:net';
import { ipv6Words, normalizeIp } from '../config/index.js';

const BITS_PER_WORD = 16;
const WORD_MASK = 0xffff;
/** Longest key kept for an input that is not an IP address. */
export const MAX_KEY_CHARS = 64;

export function clientKey(address: string, ipv6PrefixBits: number): string {
  const ip = normalizeIp(address);
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version !== 6) return ip.slice(0, MAX_KEY_CHARS);
  const words = ipv6Words(ip);
  const masked = words.map((word, i) => word & wordMask(ipv6PrefixBits - i * BITS_PER_WORD));
  return `${masked.map((w) => w.toString(16)).join(':')}/${ipv6PrefixBits}`;
}

/** The mask of one 16-bit word that keeps its first `bits` bits (all for >= 16, none for <= 0). */
function wordMask(bits: number): number {
  if (bits >= BITS_PER_WORD) return WORD_MASK;
  if (bits <= 0) return 0;
  return (WORD_MASK << (BITS_PER_WORD - bits)) & WORD_MASK;
}
