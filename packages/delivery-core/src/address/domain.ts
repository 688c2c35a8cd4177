/**
 * Domain names as Herald compares them: lower-case, without a trailing dot, U-labels as A-labels
 * (IDNA through the WHATWG/UTS-46 mapping Node ships in `node:url`). ASCII names are never run
 * through IDNA (so `_dmarc`-style labels and A-labels stay as written). Pure.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

const NON_ASCII = /[^\x00-\x7f]/;

/** Lower-cases, trims and strips one trailing dot; no IDNA. */
export function lowerDomain(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * The A-label form of `name` (lower-case, no trailing dot), or undefined when it holds non-ASCII
 * characters that IDNA rejects.
 */
export function asciiDomain(name: string): string | undefined {
  const lower = lowerDomain(name);
  if (!NON_ASCII.test(lower)) return lower;
  const ascii = domainToASCII(lower);
  return ascii === '' ? undefined : ascii.toLowerCase();
}

/** `asciiDomain(name)`, or the name lower-cased as written when IDNA rejects it. */
export function comparableDomain(name: string): string {
  return asciiDomain(name) ?? lowerDomain(name);
}

/** True when `domain` is `base` or a subdomain of it, both compared in A-label form. */
export function withinDomain(domain: string, base: string): boolean {
  const d = comparableDomain(domain);
  const b = comparableDomain(base);
  return d === b || d.endsWith(`.${b}`);
}

/**
 * True when `name` is written in its canonical form, so the bytes Herald sends name the domain
 * Herald checked: ASCII whose `xn--` labels are valid punycode, or U-labels IDNA maps to
 * themselves (case and Unicode normalisation aside). A full-width dot (`shop．test`), an
 * invisible character or full-width letters map onto another name and are not canonical.
 */
export function isCanonicalDomain(name: string): boolean {
  if (!NON_ASCII.test(name)) return !/(?:^|\.)xn--/i.test(name) || domainToASCII(name.toLowerCase()) !== '';
  const ascii = asciiDomain(name);
  return ascii !== undefined && domainToUnicode(ascii) === name.toLowerCase().normalize('NFC');
}
