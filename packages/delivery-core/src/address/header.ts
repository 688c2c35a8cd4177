/**
 * Addresses in header fields (RFC 5322 §3.4): the first address of an address list such as
 * From, skipping quoted display names and comments (which may hold "@", "<" or ","), and its
 * domain in A-label form. The one reader of the From domain: the sender-domain check, the DMARC
 * pre-check and the DKIM signer's key choice all call `headerAddressDomain`. Pure.
 */
import { domainOfAddress } from './parts.js';

/** The first address (`local@domain`) of a header field value, or undefined when it has none. */
export function firstHeaderAddress(value: string): string | undefined {
  const unfolded = value.replace(/\r?\n/g, '');
  // Quoted display names and comments may hold "@", "<" and ",": drop them before looking.
  const plain = unfolded.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  const angle = /<([^<>]*)>/.exec(plain);
  const candidate = angle ? angle[1]! : (/[^\s<>",;:]+@[^\s<>",;:]+/.exec(plain)?.[0] ?? '');
  const address = candidate.trim();
  return address.includes('@') ? address : undefined;
}

/** The A-label domain of a header field value's first address; undefined without one. */
export function headerAddressDomain(value: string): string | undefined {
  const address = firstHeaderAddress(value);
  return address === undefined ? undefined : domainOfAddress(address);
}
