/**
 * Downgrading an 8-bit message to 7-bit for a next hop without 8BITMIME (RFC 6152 §3, the way
 * Postfix's smtp client does it): every MIME leaf whose content has a byte above 127 is
 * re-encoded, text/* as quoted-printable (RFC 2045 §6.7, line breaks kept) and anything else as
 * base64, its Content-Transfer-Encoding replaced; multiparts are walked part by part (boundaries,
 * preamble and epilogue byte for byte) and message/rfc822 parts as the messages they hold. A
 * message without MIME headers becomes text/plain (charset utf-8 when its body is valid UTF-8,
 * else unknown-8bit, RFC 1428) with MIME-Version added. 7-bit content is kept byte for byte.
 * Answers undefined when the message cannot be made 7-bit: 8-bit bytes in a header section (those
 * need SMTPUTF8, RFC 6532) or in a multipart's preamble/epilogue, a body already declared
 * base64 / quoted-printable that still has 8-bit bytes, or nesting deeper than MAX_MIME_DEPTH.
 * Pure; linear in the message's size.
 */
import { isAscii, isUtf8 } from 'node:buffer';

/** Multipart / message nesting walked at most (deeper: not converted). */
export const MAX_MIME_DEPTH = 20;
/** RFC 2045: encoded lines are at most 76 characters. */
const LINE_CHARS = 76;
const CRLF = '\r\n';
const HEX = '0123456789ABCDEF';
/** A soft break comes after at least this many output characters (a 3-character escape no longer fits). */
const QP_MIN_SOFT_LINE = LINE_CHARS - 4;

/** The message as 7-bit (the same buffer when it already is), or undefined when it cannot be made so. */
export function toSevenBit(message: Buffer): Buffer | undefined {
  if (isAscii(message)) return message;
  const text = entity(message.toString('latin1'), 0, true);
  return text === undefined ? undefined : Buffer.from(text, 'latin1');
}

/** One entity (header section, blank line, content) in latin1 text, converted. */
function entity(raw: string, depth: number, top: boolean): string | undefined {
  if (depth > MAX_MIME_DEPTH) return undefined;
  const split = splitEntity(raw);
  if (!split) return hasEightBit(raw) ? undefined : raw;
  const { head, gap, body } = split;
  if (hasEightBit(head)) return undefined;
  if (!hasEightBit(body)) return raw;
  const type = headerValue(head, 'content-type');
  const mime = top ? headerValue(head, 'mime-version') !== undefined || type !== undefined : true;
  const mediaType = (type ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  if (mediaType.startsWith('multipart/')) {
    const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(type ?? '');
    const name = boundary?.[1] ?? boundary?.[2];
    if (!name) return undefined;
    const converted = multipart(body, name, depth);
    return converted === undefined ? undefined : head + gap + converted;
  }
  if (mediaType === 'message/rfc822' || mediaType === 'message/global') {
    const inner = entity(body, depth + 1, false);
    return inner === undefined ? undefined : head + gap + inner;
  }
  const cte = (headerValue(head, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  if (cte === 'base64' || cte === 'quoted-printable') return undefined;
  const isText = mediaType.startsWith('text/');
  const encoding = isText ? 'quoted-printable' : 'base64';
  const encoded = isText ? quotedPrintable(body) : base64(body);
  const eol = head.endsWith(CRLF) || head.length === 0 ? CRLF : '\n';
  let newHead = `${withoutField(head, 'content-transfer-encoding')}Content-Transfer-Encoding: ${encoding}${eol}`;
  if (!mime) {
    const charset = isUtf8(Buffer.from(body, 'latin1')) ? 'utf-8' : 'unknown-8bit';
    newHead += `MIME-Version: 1.0${eol}Content-Type: text/plain; charset=${charset}${eol}`;
  }
  return newHead + gap + encoded;
}

/** Header section (with its last line end), the blank line, the content; undefined without a blank line. */
function splitEntity(raw: string): { head: string; gap: string; body: string } | undefined {
  if (raw.startsWith(CRLF)) return { head: '', gap: CRLF, body: raw.slice(2) };
  if (raw.startsWith('\n')) return { head: '', gap: '\n', body: raw.slice(1) };
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf))
    return { head: raw.slice(0, crlf + 2), gap: CRLF, body: raw.slice(crlf + 4) };
  if (lf >= 0) return { head: raw.slice(0, lf + 1), gap: '\n', body: raw.slice(lf + 2) };
  return undefined;
}

/** A multipart body with each part converted; delimiters, preamble and epilogue kept. */
function multipart(body: string, boundary: string, depth: number): string | undefined {
  const delimiter = new RegExp(`(^|\\r?\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  const pieces: string[] = [];
  let last = 0;
  let closed = false;
  let first = true;
  for (const m of body.matchAll(delimiter)) {
    const chunk = body.slice(last, m.index);
    if (first) {
      // The preamble: readers ignore it, so it cannot be re-encoded; 8-bit there is not converted.
      if (hasEightBit(chunk)) return undefined;
      pieces.push(chunk);
      first = false;
    } else {
      const part = entity(stripLeadingEol(chunk).text, depth + 1, false);
      if (part === undefined) return undefined;
      pieces.push(stripLeadingEol(chunk).eol + part);
    }
    pieces.push(m[0]);
    last = m.index + m[0].length;
    if (m[2]) {
      closed = true;
      break;
    }
  }
  const rest = body.slice(last);
  if (!closed && !first) {
    const part = entity(stripLeadingEol(rest).text, depth + 1, false);
    if (part === undefined) return undefined;
    pieces.push(stripLeadingEol(rest).eol + part);
  } else {
    if (hasEightBit(rest)) return undefined;
    pieces.push(rest);
  }
  return pieces.join('');
}

/** A part's text starts after its delimiter line's end. */
function stripLeadingEol(chunk: string): { eol: string; text: string } {
  if (chunk.startsWith(CRLF)) return { eol: CRLF, text: chunk.slice(2) };
  if (chunk.startsWith('\n')) return { eol: '\n', text: chunk.slice(1) };
  return { eol: '', text: chunk };
}

function hasEightBit(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return true;
  return false;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The unfolded value of the first `name` field of a header section. */
function headerValue(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

/** The header section without any `name` field (continuation lines included). */
function withoutField(head: string, name: string): string {
  return head.replace(new RegExp(`^${name}[ \\t]*:.*(?:\\r?\\n[ \\t].*)*(?:\\r?\\n|$)`, 'gim'), '');
}

/** RFC 2045 §6.7 quoted-printable of latin1 text; line breaks stay hard breaks (CRLF). */
function quotedPrintable(body: string): string {
  // Written into one buffer sized for the worst case (every byte "=XX", a soft break every
  // QP_MIN_SOFT_LINE output characters): memory stays a small multiple of the input. Building the
  // text by string concatenation instead made a rope of one node per character (about 70 bytes of
  // heap per input byte: a 25 MB body needed close to 2 GB).
  const worst = body.length * 3;
  const out = Buffer.allocUnsafe(worst + Math.ceil(worst / QP_MIN_SOFT_LINE) * 3 + 2);
  let at = 0;
  let width = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    if (code === 0x0a || (code === 0x0d && body.charCodeAt(i + 1) === 0x0a)) {
      if (code === 0x0d) i++;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      width = 0;
      continue;
    }
    const next = body.charCodeAt(i + 1);
    const endOfLine =
      i + 1 === body.length || next === 0x0a || (next === 0x0d && body.charCodeAt(i + 2) === 0x0a);
    const blank = code === 0x20 || code === 0x09;
    const literal = (code >= 0x21 && code <= 0x7e && code !== 0x3d) || (blank && !endOfLine);
    const size = literal ? 1 : 3;
    // Soft line break: "=" ends the line, so a line holds at most LINE_CHARS - 1 characters of text.
    if (width + size > LINE_CHARS - 1) {
      out[at++] = 0x3d;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      width = 0;
    }
    if (literal) out[at++] = code;
    else {
      out[at++] = 0x3d;
      out[at++] = HEX.charCodeAt(code >> 4);
      out[at++] = HEX.charCodeAt(code & 0x0f);
    }
    width += size;
  }
  return out.toString('latin1', 0, at);
}

/** base64 in lines of LINE_CHARS characters, CRLF after each. */
function base64(body: string): string {
  const encoded = Buffer.from(body, 'latin1').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += LINE_CHARS) lines.push(encoded.slice(i, i + LINE_CHARS));
  return lines.join(CRLF) + CRLF;
}
