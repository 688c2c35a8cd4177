/**
 * Domain name normalisation for lookups and cache keys.
 *
 * Guarantees: names come out lower-case, without trailing dot, ASCII (A-labels are kept as given;
 * a U-label is converted by address/'s `asciiDomain`, the WHATWG/UTS-46 mapping Node ships). Invalid names (empty label,
 * label over 63 octets, name over 253) are reported as undefined so callers can fail permanently.
 */
import { asciiDomain, lowerDomain } from '../address/index.js';

const MAX_NAME_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;

/** Lower-cases and strips the trailing dot; the root ("." or "") becomes "". */
export function normaliseName(name: string): string {
  return lowerDomain(name);
}

/** The query form of `name`, or undefined when it is not a valid domain name. */
export function toQueryName(name: string): string | undefined {
  const n = asciiDomain(name);
  if (n === undefined || n === '' || n.length > MAX_NAME_OCTETS) return undefined;
  for (const label of n.split('.'))
    if (label.length === 0 || label.length > MAX_LABEL_OCTETS) return undefined;
  return n;
}
