/**
 * Envelope address syntax as Herald accepts it, the one decision for every front end (the relay's
 * MAIL / RCPT and `send()`), strict per RFC 5321 §4.1.2 and never looser than the relay's SMTP
 * server (smtp-server refuses the rest with 501 before Herald sees it): a dot-atom local part
 * (RFC 5322 atext, UTF-8 allowed, RFC 6531) or a quoted string without space, "@", "\" or
 * quoted pairs; exactly one "@"; a domain of LDH labels (no "_", no empty label, no trailing
 * dot) whose A-labels are valid punycode, or a U-label name IDNA accepts, or an address literal
 * ([IPv4] / [IPv6:…]); and the RFC 5321 length limits. Returns a reason, or undefined.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { isCanonicalDomain } from './domain.js';

const MAX_LOCAL_PART = 64;
const MAX_ADDRESS = 254;
const MAX_DOMAIN = 253;
const MAX_LABEL = 63;
/** RFC 5322 atext, plus non-ASCII characters (RFC 6531 UTF-8 local parts). */
const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u00a0-\\uffff";
const DOT_ATOM_LOCAL = new RegExp(`^[${ATEXT}]+(?:\\.[${ATEXT}]+)*$`);
/**
 * Controls and invisible characters smtp-server refuses in any address, and the bidirectional
 * formatting characters (U+061C, U+200E/F, U+202A–E, U+2066–9), which make an address display as
 * another (`b\u202e@…`): IDNA refuses them in domains and no mailbox needs them.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;
/**
 * Not text: U+FFFD (what a decoder puts where a client sent bytes that are not UTF-8, so the
 * address is no longer the one the client wrote) and a lone UTF-16 surrogate (a JSON `\ud800`,
 * which has no UTF-8 form and would go on the wire as U+FFFD).
 */
const NOT_TEXT = /\ufffd|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** qtext (RFC 5321 §4.1.2) without "@" and quoted pairs, which smtp-server cannot take. */
const QUOTED_LOCAL = /^"[\x21\x23-\x3f\x41-\x5b\x5d-\x7e]+"$/;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
const NON_ASCII = /[^\x00-\x7f]/;

/** Why `domain` (as written in an address) is not a domain Herald sends to, or undefined. */
export function domainProblem(domain: string): string | undefined {
  if (domain.startsWith('[') && domain.endsWith(']')) {
    const literal = domain.slice(1, -1);
    const v6 = /^IPv6:/i.test(literal);
    return (v6 ? isIPv6(literal.slice(5)) : isIPv4(literal)) ? undefined : 'invalid address literal';
  }
  const ascii = NON_ASCII.test(domain) ? domainToASCII(domain.normalize('NFC')) : domain;
  if (ascii === '' || !isCanonicalDomain(domain)) return 'invalid internationalised domain';
  if (ascii.length > MAX_DOMAIN) return 'domain too long';
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length > MAX_LABEL || !LDH_LABEL.test(label)) return 'invalid domain';
    if (/^xn--/i.test(label) && domainToASCII(label) === '') return 'invalid punycode label';
  }
  return undefined;
}

export function checkAddress(address: string): string | undefined {
  if (address.length > MAX_ADDRESS) return 'address too long';
  if (UNSAFE.test(address)) return 'control or invisible character in address';
  if (NOT_TEXT.test(address)) return 'invalid UTF-8 in address';
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return 'address must be local@domain';
  const local = address.slice(0, at);
  if (local.length > MAX_LOCAL_PART) return 'local part too long';
  if (!DOT_ATOM_LOCAL.test(local) && !QUOTED_LOCAL.test(local)) return 'invalid local part';
  return domainProblem(address.slice(at + 1));
}
