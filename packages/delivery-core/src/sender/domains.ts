/**
 * Which domains a tenant may send as (`tenants.<name>.sender_domains`): the envelope sender's
 * domain and the From header's domain must each be one of them or a subdomain of one; an empty
 * list allows any. The null sender (bounces, DSNs) has no domain and is always allowed. Pure.
 */
import { findHeader } from '../message/headers.js';

/** The domain of an address (lower-case), or undefined for `<>` / no domain. */
export function domainOfAddress(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = address
    .slice(at + 1)
    .trim()
    .replace(/>$/, '')
    .toLowerCase()
    .replace(/\.$/, '');
  return domain === '' ? undefined : domain;
}

/** The domain of the first address in the From header, or undefined when it has none. */
export function fromHeaderDomain(raw: Buffer): string | undefined {
  const from = findHeader(raw, 'from');
  if (!from) return undefined;
  const angle = /<([^<>]*@[^<>]*)>/.exec(from);
  const address = angle ? angle[1]! : (/[^\s<>",;:]+@[^\s<>",;:]+/.exec(from)?.[0] ?? '');
  return domainOfAddress(address);
}

/** True when `domain` is one of `allowed` or a subdomain of one (or `allowed` is empty). */
export function senderDomainAllowed(allowed: readonly string[], domain: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (domain === undefined) return false;
  return allowed.some((a) => {
    const base = a.toLowerCase().replace(/\.$/, '');
    return domain === base || domain.endsWith(`.${base}`);
  });
}
