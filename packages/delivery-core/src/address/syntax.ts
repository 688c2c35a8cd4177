/**
 * Envelope address syntax as Herald accepts it (RFC 5321 §4.1.2, pragmatically): local@domain,
 * no spaces or angle brackets, a domain of dot-separated labels or an address literal, and the
 * RFC 5321 length limits. Returns a reason when the address is unacceptable, else undefined.
 */
const MAX_LOCAL_PART = 64;
const MAX_ADDRESS = 254;
const DOMAIN_RE =
  /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;
const LITERAL_RE = /^\[(?:IPv6:[0-9a-f:.]+|\d{1,3}(?:\.\d{1,3}){3})\]$/i;

export function checkAddress(address: string): string | undefined {
  if (address.length > MAX_ADDRESS) return 'address too long';
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return 'address must be local@domain';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > MAX_LOCAL_PART) return 'local part too long';
  if (/[\s<>()[\],;\\]/.test(local) && !/^".*"$/.test(local)) return 'invalid characters in local part';
  const ascii = domain.normalize('NFC');
  if (!DOMAIN_RE.test(ascii) && !LITERAL_RE.test(ascii) && !/[^\x00-\x7f]/.test(ascii))
    return 'invalid domain';
  return undefined;
}
