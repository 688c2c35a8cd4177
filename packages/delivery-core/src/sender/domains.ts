/**
 * Which domains a tenant may send as (`tenants.<name>.sender_domains`): the envelope sender's
 * domain and the From header's domain must each be one of them or a subdomain of one; an empty
 * list allows any. The null sender (bounces, DSNs) has no domain and is always allowed. Domains
 * are compared in A-label form (address/), so a U-label in the config, the envelope or the From
 * header matches its A-label. Pure.
 */
import { domainOfAddress, headerAddressDomain, withinDomain } from '../address/index.js';
import { findHeader } from '../message/index.js';

export { domainOfAddress };

/** The A-label domain of the first address in the From header, or undefined when it has none. */
export function fromHeaderDomain(raw: Buffer): string | undefined {
  const from = findHeader(raw, 'from');
  return from === undefined ? undefined : headerAddressDomain(from);
}

/** True when `domain` is one of `allowed` or a subdomain of one (or `allowed` is empty). */
export function senderDomainAllowed(allowed: readonly string[], domain: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (domain === undefined) return false;
  return allowed.some((base) => withinDomain(domain, base));
}
