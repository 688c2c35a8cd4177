/**
 * An address's parts: the local part and the domain, split at the last "@" (a quoted local part
 * may hold "@"), the envelope's angle brackets and surrounding space removed. The domain Herald
 * compares (sender domains, DMARC, DKIM, suppression keys) is the A-label form. Pure.
 */
import { comparableDomain, lowerDomain } from './domain.js';

export interface AddressParts {
  local: string;
  /** The domain as written (not lower-cased); '' when the address ends with "@". */
  domain: string;
}

/** Splits `local@domain` (angle brackets allowed); undefined without an "@". */
export function splitAddress(address: string): AddressParts | undefined {
  const bare = address.trim().replace(/^<(.*)>$/, '$1');
  const at = bare.lastIndexOf('@');
  if (at < 0) return undefined;
  return { local: bare.slice(0, at), domain: bare.slice(at + 1).trim() };
}

/** The domain as written, lower-cased, no trailing dot; '' when the address has none. */
export function domainAsWritten(address: string): string {
  const parts = splitAddress(address);
  return parts ? lowerDomain(parts.domain) : '';
}

/** The domain of an address in A-label form (lower case), or undefined for `<>` / no domain. */
export function domainOfAddress(address: string): string | undefined {
  const parts = splitAddress(address);
  if (!parts) return undefined;
  const domain = comparableDomain(parts.domain);
  return domain === '' ? undefined : domain;
}

/**
 * One spelling per mailbox: trimmed, lower-cased, the domain in A-label form, so `x@Bücher.example`
 * and `x@xn--bcher-kva.example` are the same key.
 */
export function normaliseAddress(address: string): string {
  const text = address.trim();
  const parts = splitAddress(text);
  if (!parts || parts.domain === '') return text.toLowerCase();
  return `${parts.local.toLowerCase()}@${comparableDomain(parts.domain)}`;
}

/**
 * Each mailbox once, as an SMTP server keeps RCPT TO (smtp-server compares addresses
 * case-insensitively, a repeated one replacing the earlier entry in its place): the first
 * position, the last spelling. Mailboxes are compared by `normaliseAddress`.
 */
export function uniqueAddresses(addresses: readonly string[]): string[] {
  const at = new Map<string, number>();
  const unique: string[] = [];
  for (const address of addresses) {
    const key = normaliseAddress(address);
    const index = at.get(key);
    if (index === undefined) {
      at.set(key, unique.length);
      unique.push(address);
    } else unique[index] = address;
  }
  return unique;
}
