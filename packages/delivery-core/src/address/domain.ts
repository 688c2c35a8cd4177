/**
 * Domain names as Herald compares them: lower-case, without a trailing dot, U-labels as A-labels
 * (IDNA through the WHATWG/UTS-46 mapping Node ships in `node:url`). ASCII names are never run
 * through IDNA (so `_dmarc`-style labels and A-labels stay as written). Pure.
 */
import { domainToASCII } from 'node:url';

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
