/**
 * A small, forgiving MIME reader for bounce messages: header fields (unfolded, RFC 2047 words
 * decoded), multipart bodies split on their boundary (a missing closing boundary is fine),
 * base64 / quoted-printable undone and text decoded with its charset. Parts are returned as
 * text: message/delivery-status, text/rfc822-headers and message/rfc822 stay readable as they
 * are. Linear in its input; bounded in depth, number of parts, header fields and header value
 * length (limits.ts); never throws on malformed input.
 */
import { TextDecoder } from 'node:util';
import { splitLines } from '../util/index.js';
import {
  MAX_HEADER_FIELDS,
  MAX_HEADER_VALUE_CHARS,
  MAX_MIME_DEPTH,
  MAX_MIME_PARTS,
  MAX_TEXT_LINES,
} from './limits.js';
import { findText } from './linear.js';

export interface MimeHeaders {
  /** Lower-cased field name -> values in order. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
}

export interface MimePart {
  readonly headers: MimeHeaders;
  /** Lower-cased "type/subtype"; "text/plain" when absent. */
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
  /** Decoded text of a leaf part ('' for a multipart). */
  readonly text: string;
  readonly parts: readonly MimePart[];
}

export function header(headers: MimeHeaders, name: string): string | undefined {
  return headers.fields.get(name.toLowerCase())?.[0];
}

export function headerAll(headers: MimeHeaders, name: string): readonly string[] {
  return headers.fields.get(name.toLowerCase()) ?? [];
}

/** Splits "headers\n\nbody"; a text with no header block has empty headers. */
export function splitHeaders(raw: string): { headers: MimeHeaders; body: string } {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match ? raw.slice(0, match.index) : raw;
  const body = match ? raw.slice(match.index + match[0].length) : '';
  const lines = splitLines(head, MAX_TEXT_LINES);
  if (!/^[\x21-\x39\x3b-\x7e]+:/.test(lines[0] ?? '') && !/^From /.test(lines[0] ?? '')) {
    return { headers: { fields: new Map() }, body: raw };
  }
  return { headers: parseHeaderLines(lines), body };
}

/** At most MAX_HEADER_FIELDS fields, each value cut at MAX_HEADER_VALUE_CHARS. */
export function parseHeaderLines(lines: readonly string[]): MimeHeaders {
  const fields = new Map<string, string[]>();
  let count = 0;
  let name = '';
  let value = '';
  const flush = (): void => {
    if (!name) return;
    const list = fields.get(name) ?? [];
    list.push(decodeWords(value.slice(0, MAX_HEADER_VALUE_CHARS).trim()));
    fields.set(name, list);
    count += 1;
  };
  const extend = (line: string): void => {
    if (value.length < MAX_HEADER_VALUE_CHARS) value += ` ${line.slice(0, MAX_HEADER_VALUE_CHARS).trim()}`;
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && name) {
      extend(line);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || /\s/.test(line.slice(0, colon))) {
      // A continuation someone forgot to indent (`boundary="..."` on its own line).
      if (name && line.trim() !== '') extend(line);
      continue;
    }
    flush();
    name = '';
    if (count >= MAX_HEADER_FIELDS) break;
    name = line.slice(0, colon).toLowerCase();
    value = line.slice(colon + 1, colon + 1 + MAX_HEADER_VALUE_CHARS);
  }
  flush();
  return { fields };
}

/** `text/plain; charset="x"; boundary=y` -> type and lower-cased parameter names. */
export function parseContentType(value: string | undefined): {
  type: string;
  params: Record<string, string>;
} {
  const params: Record<string, string> = {};
  if (!value) return { type: 'text/plain', params };
  const [first, ...rest] = value.split(';');
  const type = (first ?? '').trim().toLowerCase() || 'text/plain';
  // The look-behind starts a name only at a name's first character: no rescan of a long run.
  const paramRe = /(?<![\w*.-])([\w*.-]+)\s*=\s*(?:"([^"]*)"|([^\s;]+))/g;
  for (const match of rest.join(';').matchAll(paramRe)) {
    params[(match[1] ?? '').toLowerCase()] = match[2] ?? match[3] ?? '';
  }
  return { type, params };
}

/** Parses a whole message given as latin1 text (one char per byte). */
export function parseMessage(raw: string): MimePart {
  const state = { parts: 0 };
  return parseEntity(raw, 0, state);
}

function parseEntity(raw: string, depth: number, state: { parts: number }): MimePart {
  state.parts += 1;
  const { headers, body } = splitHeaders(raw);
  const declared = header(headers, 'content-type');
  const parsed = parseContentType(declared);
  const implicit = declared === undefined ? implicitBoundary(body) : undefined;
  const { type, params } = implicit ? { type: 'multipart/mixed', params: { boundary: implicit } } : parsed;
  const encoding = (header(headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  if (type.startsWith('multipart/') && depth < MAX_MIME_DEPTH) {
    // A declared boundary that never occurs (hand-edited or broken mail): look for the real one.
    const room = MAX_MIME_PARTS - state.parts;
    let chunks = params['boundary'] ? splitMultipart(body, params['boundary'], room) : [];
    if (chunks.length === 0) {
      const found = implicitBoundary(body);
      if (found) chunks = splitMultipart(body, found, room);
    }
    if (chunks.length > 0) {
      const parts: MimePart[] = [];
      for (const chunk of chunks) {
        if (state.parts >= MAX_MIME_PARTS) break;
        parts.push(parseEntity(chunk, depth + 1, state));
      }
      return { headers, type, params, text: '', parts };
    }
    return { headers, type: 'text/plain', params, text: decodeCharset(body, undefined), parts: [] };
  }
  const bytes = decodeTransfer(body, encoding);
  if ((type === 'message/rfc822' || type === 'message/global') && depth < MAX_MIME_DEPTH) {
    // The enclosed message keeps its bytes: its own parts say how to decode them.
    return { headers, type, params, text: bytes, parts: [parseEntity(bytes, depth + 1, state)] };
  }
  const text = decodeCharset(bytes, params['charset']);
  return { headers, type, params, text, parts: [] };
}

/**
 * A boundary used without a Content-Type header (old Sendmail writes "This is a
 * MIME-encapsulated message" then parts): a "--token" line seen twice, one of them followed by
 * a Content-Type field.
 */
function implicitBoundary(body: string): string | undefined {
  const match = /^--([^\s-][^\s]{5,})\r?\n(?:\r?\n)?content-type:/im.exec(body);
  if (!match?.[1]) return undefined;
  const boundary = match[1].endsWith('--') ? match[1].slice(0, -2) : match[1];
  const line = `\n--${boundary}`;
  let count = body.startsWith(`--${boundary}`) ? 1 : 0;
  for (let at = findText(body, line); at >= 0 && count < 2; at = findText(body, line, at + 1)) count++;
  return count >= 2 ? boundary : undefined;
}

/** The bodies between `--boundary` lines, at most `limit` of them. */
function splitMultipart(body: string, boundary: string, limit: number): string[] {
  const delimiter = `--${boundary}`;
  const chunks: string[] = [];
  const lines = splitLines(body, MAX_TEXT_LINES);
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      if (current) chunks.push(current.join('\n'));
      if (chunks.length >= limit) return chunks;
      current = line.slice(delimiter.length).startsWith('--') ? undefined : [];
      if (!current && chunks.length > 0) break;
      continue;
    }
    current?.push(line);
  }
  if (current && current.length > 0) chunks.push(current.join('\n'));
  return chunks;
}

/** Undoes base64 / quoted-printable; returns latin1 text (bytes). */
export function decodeTransfer(body: string, encoding: string): string {
  if (encoding === 'base64') {
    const clean = body.replace(/[^A-Za-z0-9+/=]/g, '');
    return Buffer.from(clean, 'base64').toString('latin1');
  }
  if (encoding === 'quoted-printable') {
    return body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  return body;
}

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.toLowerCase();
  let decoder = decoders.get(key);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(key);
    } catch {
      decoder = null;
    }
    decoders.set(key, decoder);
  }
  return decoder;
}

/** latin1 bytes -> text in the given charset; plain ASCII and unknown charsets pass through. */
export function decodeCharset(bytes: string, charset: string | undefined): string {
  const wanted = (charset ?? '').trim().toLowerCase();
  const needsDecoding = /[\x1b\x80-\xff]/.test(bytes);
  if (!needsDecoding) return bytes;
  let name = wanted && wanted !== 'us-ascii' ? wanted : /\x1b\$[@B]/.test(bytes) ? 'iso-2022-jp' : 'utf-8';
  // Japanese carriers label 8-bit EUC-JP text as ISO-2022-JP (which is 7-bit with escapes).
  if (name === 'iso-2022-jp' && !bytes.includes('\x1b') && /[\x80-\xff]/.test(bytes)) name = 'euc-jp';
  const decoder = decoderFor(name) ?? decoderFor('utf-8');
  return decoder ? decoder.decode(Buffer.from(bytes, 'latin1')) : bytes;
}

/** RFC 2047: =?charset?B|Q?text?= words in a header value. */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset: string, kind: string, text: string) => {
      const bytes =
        kind.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64').toString('latin1')
          : decodeTransfer(text.replace(/_/g, ' '), 'quoted-printable');
      return decodeCharset(bytes, charset.split('*')[0]);
    });
}

/** Every leaf part, depth first, with the chain of types above it. */
export function leaves(
  part: MimePart,
  ancestors: readonly string[] = [],
): { part: MimePart; path: string[] }[] {
  if (part.parts.length === 0) return [{ part, path: [...ancestors] }];
  const out: { part: MimePart; path: string[] }[] = [];
  if (part.type === 'message/rfc822' || part.type === 'message/global')
    out.push({ part, path: [...ancestors] });
  for (const child of part.parts) out.push(...leaves(child, [...ancestors, part.type]));
  return out;
}
