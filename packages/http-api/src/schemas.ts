/**
 * Field schemas shared by route modules. Everything that can end up in a header of a message (an
 * address, the subject, a header name or value, an attachment's filename or type, metadata)
 * refuses every C0 control but TAB (CR, LF and NUL among them) and DEL: header injection is a 400,
 * never a new header or a control character in one.
 */
import { z } from 'zod';

/** A C0 control but TAB (so CR, LF and NUL), or DEL. */
const INJECTION = /[\x00-\x08\x0a-\x1f\x7f]/;
export const INJECTION_MESSAGE =
  'control characters (CR, LF, NUL, any other but TAB, DEL) are not allowed (header injection)';
/** RFC 5322 field name: printable US-ASCII except ':'. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/;
/** RFC 5322 line limit: a header value longer than this would have to be folded by us. */
export const MAX_HEADER_VALUE_CHARS = 998;
export const MAX_RECIPIENTS_PER_REQUEST = 1000;

/** A string that may go into a header: no control character but TAB, at most `max` characters. */
export function headerText(max = MAX_HEADER_VALUE_CHARS) {
  return z
    .string()
    .max(max)
    .refine((s) => !INJECTION.test(s), { error: INJECTION_MESSAGE });
}

export const address = headerText(998).min(1).describe('an address, "local@domain" or "Name <local@domain>"');
export const addressList = z
  .union([address, z.array(address).min(1).max(MAX_RECIPIENTS_PER_REQUEST)], {
    // zod reports a failed union as "Invalid input" unless one branch is clearly meant.
    error: (issue) => {
      if (issue.input === undefined) return 'required: one address or a list';
      if (Array.isArray(issue.input) && issue.input.length > MAX_RECIPIENTS_PER_REQUEST)
        return `at most ${MAX_RECIPIENTS_PER_REQUEST} addresses per request, got ${issue.input.length}`;
      if (typeof issue.input !== 'string' && !Array.isArray(issue.input))
        return 'expected one address (a string) or a list of addresses';
      if (Array.isArray(issue.input) && issue.input.some((a) => typeof a !== 'string'))
        return 'expected a list of addresses (strings)';
      return undefined;
    },
  })
  .describe('one address or a list');

export const headerName = z
  .string()
  .regex(FIELD_NAME, { error: 'expected a header name (printable ASCII, no ":", no space)' });

/** A traffic name (stream, campaign): checked again by the intake's own rule. */
export const trafficName = headerText(64).min(1);

export const tenantName = z.string().min(1).max(128).describe('a tenant name (letters, digits, _ . -)');
