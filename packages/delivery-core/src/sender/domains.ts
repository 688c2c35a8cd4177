/**
 * Which domains a tenant may send as (`tenants.<name>.sender_domains`): the envelope sender's
 * domain and the From header's domain must each be one of them or a subdomain of one; an empty
 * list allows any. The null sender (bounces, DSNs) has no domain and is always allowed. Domains
 * are compared in A-label form (address/), so a U-label in the config, the envelope or the From
 * header matches its A-label. Pure.
 */
import {
  type AuthorReading,
  domainOfAddress,
  readAuthors,
  singleAuthorDomain,
  withinDomain,
} from '../address/index.js';
import { findHeaders } from '../message/index.js';

export { domainOfAddress };

/** The message's authors as its From field(s) name them (address/header.ts `readAuthors`). */
export function fromHeaderAuthors(raw: Buffer): AuthorReading {
  return readAuthors(findHeaders(raw, 'from'));
}

/**
 * The A-label author domain: defined only for exactly one From field whose mailboxes all have
 * that one domain (what DMARC evaluates); undefined otherwise.
 */
export function fromHeaderDomain(raw: Buffer): string | undefined {
  return singleAuthorDomain(findHeaders(raw, 'from'));
}

/** True when `domain` is one of `allowed` or a subdomain of one (or `allowed` is empty). */
export function senderDomainAllowed(allowed: readonly string[], domain: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (domain === undefined) return false;
  return allowed.some((base) => withinDomain(domain, base));
}
