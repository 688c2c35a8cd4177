/**
 * What one transaction may put on the wire given what the server offered in its EHLO reply:
 * `wireForm` picks the body to send (the 8-bit message itself only to a server with 8BITMIME, or
 * with SMTPUTF8 when the message uses it; else its 7-bit form, RFC 6152 §3) or refuses the
 * transaction before MAIL (553 5.6.7: a UTF-8 address, or UTF-8 headers of a message submitted
 * with SMTPUTF8, for a server without SMTPUTF8, RFC 6531 §3.2; 554 5.6.3: an 8-bit message that
 * cannot or may not be converted; 552 5.3.4: a message larger than the server's SIZE limit, RFC
 * 1870 §6.2, as Postfix refuses it without sending it). `mailParameters` / `rcptParameters` write the ESMTP parameters:
 * SIZE, BODY=8BITMIME, SMTPUTF8, and the sender's DSN request (RET, ENVID, NOTIFY, ORCPT; values
 * xtext-encoded, RFC 3461 §4) only to a server that offers DSN. Pure.
 */
import { isAscii } from 'node:buffer';
import type { Extensions } from './session-setup.js';
import type { TransactionOptions } from './session-types.js';

/** The body to send and what it needs from the server. */
export interface WireForm {
  body: Buffer;
  /** The body has bytes above 127 (sent with BODY=8BITMIME). */
  eightBit: boolean;
  /** The transaction is sent with SMTPUTF8. */
  smtputf8: boolean;
}

export interface WireRefusal {
  refused: { code: number; enhanced: string; text: string };
}

export function wireForm(
  ext: Extensions,
  from: string,
  recipients: readonly string[],
  body: Buffer,
  options: TransactionOptions,
  host: string,
): WireForm | WireRefusal {
  const utf8Address = !isAsciiText(from) || recipients.some((r) => !isAsciiText(r));
  const utf8Headers = options.smtputf8 === true && !isAscii(body.subarray(0, headerSectionEnd(body)));
  if ((utf8Address || utf8Headers) && !ext.smtputf8) {
    const what = utf8Address
      ? 'a non-ASCII address'
      : 'UTF-8 header fields (the message was sent with SMTPUTF8)';
    return refusal(553, '5.6.7', `SMTPUTF8 is required for ${what}, but ${host} does not offer it`);
  }
  const smtputf8 = utf8Address || utf8Headers;
  const eightBit = !isAscii(body);
  // RFC 6531 §3.1: a server that offers SMTPUTF8 takes 8-bit content in an SMTPUTF8 transaction.
  if (!eightBit || ext.eightBitMime || smtputf8) return withinSize(ext, { body, eightBit, smtputf8 }, host);
  if (!options.downgrade)
    return refusal(
      554,
      '5.6.3',
      `${host} does not offer 8BITMIME and conversion of 8-bit messages is disabled (delivery.convert_8bit)`,
    );
  const converted = options.downgrade(body);
  if (!converted)
    return refusal(
      554,
      '5.6.3',
      `${host} does not offer 8BITMIME and the message cannot be converted to 7-bit (8-bit header fields or malformed MIME)`,
    );
  return withinSize(ext, { body: converted, eightBit: false, smtputf8 }, host);
}

/** `form`, unless it is over the server's SIZE limit (0 or none given: no fixed limit, RFC 1870 §4). */
function withinSize(ext: Extensions, form: WireForm, host: string): WireForm | WireRefusal {
  if (!ext.size || form.body.length <= ext.size) return form;
  return refusal(
    552,
    '5.3.4',
    `message size ${form.body.length} exceeds size limit ${ext.size} of server ${host}`,
  );
}

/**
 * The recipients a server without SMTPUTF8 refuses alone: the non-ASCII addresses among ASCII
 * ones, from an ASCII sender (553 5.6.7 each, as each would be in a transaction of its own with
 * VERP); the others still go (their transaction may still be refused whole by `wireForm`, for
 * UTF-8 header fields). Empty when the server offers SMTPUTF8, the sender is not ASCII, or no
 * recipient is.
 */
export function refusedAlone(
  ext: Extensions,
  from: string,
  recipients: readonly string[],
  host: string,
): Map<string, WireRefusal['refused']> {
  const alone = new Map<string, WireRefusal['refused']>();
  if (ext.smtputf8 || !isAsciiText(from)) return alone;
  const utf8 = recipients.filter((to) => !isAsciiText(to));
  if (utf8.length === 0 || utf8.length === recipients.length) return alone;
  const text = `SMTPUTF8 is required for a non-ASCII address, but ${host} does not offer it`;
  for (const to of utf8) alone.set(to, refusal(553, '5.6.7', text).refused);
  return alone;
}

/** The MAIL FROM parameters (each with its leading space). */
export function mailParameters(ext: Extensions, form: WireForm, options: TransactionOptions): string {
  let params = '';
  if (ext.size !== undefined) params += ` SIZE=${form.body.length}`;
  if (form.eightBit && ext.eightBitMime) params += ' BODY=8BITMIME';
  if (form.smtputf8) params += ' SMTPUTF8';
  if (ext.dsn && options.dsn) {
    if (options.dsn.ret) params += ` RET=${options.dsn.ret}`;
    if (options.dsn.envid) params += ` ENVID=${xtext(options.dsn.envid)}`;
  }
  return params;
}

/**
 * The RCPT TO parameters for `to` (each with its leading space). To a server that offers DSN the
 * recipient always has an ORCPT: the sender's, else `rfc822;<to>` (RFC 3461 §4.2 lets the first
 * MTA add it; Postfix does), or for a non-ASCII address in an SMTPUTF8 transaction
 * `utf-8;<utf-8-addr-unitext>` (RFC 6533 §3), so the next hop's reports name it as submitted.
 */
export function rcptParameters(
  ext: Extensions,
  to: string,
  options: TransactionOptions,
  smtputf8 = false,
): string {
  if (!ext.dsn) return '';
  const asked = options.dsn?.recipients?.[to.toLowerCase()];
  let params = '';
  if (asked?.notify && asked.notify.length > 0) params += ` NOTIFY=${asked.notify.join(',')}`;
  if (asked?.orcpt) {
    const at = asked.orcpt.indexOf(';');
    params += ` ORCPT=${asked.orcpt.slice(0, at)};${xtext(asked.orcpt.slice(at + 1))}`;
  } else if (isAsciiText(to)) params += ` ORCPT=rfc822;${xtext(to)}`;
  else if (smtputf8) params += ` ORCPT=utf-8;${utf8AddrUnitext(to)}`;
  return params;
}

/**
 * RFC 6533 §3 utf-8-addr-unitext: non-ASCII characters as they are (the transaction is SMTPUTF8),
 * printable ASCII except "+", "=" and "\\" as it is, everything else as `\\x{HEX}`.
 */
export function utf8AddrUnitext(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    const plain = code > 0x7f || (code >= 0x21 && code <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\');
    out += plain ? ch : `\\x{${code.toString(16).toUpperCase()}}`;
  }
  return out;
}

/** RFC 3461 §4: xtext ("+" and "=", controls, space and non-ASCII bytes as "+HH"). */
export function xtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out +=
      byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d
        ? String.fromCharCode(byte)
        : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function refusal(code: number, enhanced: string, text: string): WireRefusal {
  return { refused: { code, enhanced, text } };
}

function isAsciiText(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Where the header section ends (the blank line), or the whole length. */
function headerSectionEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf;
  return lf >= 0 ? lf : raw.length;
}
