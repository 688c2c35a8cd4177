/**
 * Addresses and domain names, parsed in one place: envelope address syntax and RFC 5321 length
 * limits (`checkAddress`), an address's parts and its domain, the first address of a header
 * field (From), and domain names as Herald compares them — lower-case, no trailing dot, U-labels
 * as A-labels (IDNA). Every module that needs a domain of an address (sender domains, the DMARC
 * pre-check, the DKIM signer, suppression keys, VERP recipient hashes, DNS query names, sites,
 * routes, the doctor) asks this module, so two of them cannot disagree about one message.
 * Pure; depends on nothing but `node:url` and `node:net` (address literals).
 */
export { asciiDomain, comparableDomain, isCanonicalDomain, lowerDomain, withinDomain } from './domain.js';
export {
  type AddressListReading,
  type AuthorReading,
  firstHeaderAddress,
  headerAddressDomain,
  MAX_ADDRESS_FIELD_CHARS,
  mailboxAddress,
  readAddressList,
  readAuthors,
  singleAuthorDomain,
} from './header.js';
export {
  type AddressParts,
  domainAsWritten,
  domainOfAddress,
  normaliseAddress,
  splitAddress,
  uniqueAddresses,
} from './parts.js';
export { checkAddress } from './syntax.js';
