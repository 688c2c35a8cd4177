/**
 * How records are written: CSV (RFC 4180: a header line per file, CRLF after each record, a field
 * quoted when it holds a comma or a double quote, quotes doubled) or JSON lines (one object per
 * LF-terminated line, keys in column order, every value a string). Text from the network and
 * from submitters (reply texts, host names, addresses) can neither end a record nor forge one,
 * nor drive a terminal that shows the file, nor run as a spreadsheet formula:
 * - CSV: control characters (C0 but TAB, DEL, C1 — CR and LF too, so a record is one line),
 *   the line/paragraph separators U+2028/2029 and the invisible bidi/format characters
 *   (U+200B–U+200F, U+202A–U+202E, U+2066–U+2069, U+FEFF) are written as `\u{hex}`; a cell
 *   starting with `=`, `+`, `-`, `@` or TAB gets a leading `'` (util's `guardFormula`, OWASP's CSV
 *   injection advice).
 *   CSV is for reading; JSON lines keep the exact text.
 * - JSON lines: JSON escapes C0; DEL, C1, U+2028/2029 and the same bidi/format characters are
 *   escaped as `\uXXXX` too (valid JSON: parsing gives the exact text back).
 * Pure: no I/O.
 */
import { guardFormula } from '../util/index.js';
import type { AccountingRecord } from './records.js';
import { ACCOUNTING_COLUMNS } from './records.js';

export type AccountingFormat = 'csv' | 'jsonl';

const CSV_RECORD_END = '\r\n';
const JSONL_RECORD_END = '\n';
const NEEDS_QUOTES = /[",]/;
/** Shown as `\u{hex}` in CSV: controls but TAB, separators, invisible bidi/format characters. */
const CSV_ESCAPED =
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** Left raw by JSON.stringify, escaped here: DEL, C1, separators, bidi/format characters. */
const JSON_ESCAPED = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

export function csvField(value: string): string {
  let text = value.replace(CSV_ESCAPED, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
  text = guardFormula(text);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record as a JSON object, keys in column order, nothing raw that a terminal acts on. */
export function jsonLine(record: AccountingRecord): string {
  return JSON.stringify(record).replace(
    JSON_ESCAPED,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The first line of a CSV file (JSON lines have none). */
export function fileHeader(format: AccountingFormat): string {
  return format === 'csv' ? `${ACCOUNTING_COLUMNS.join(',')}${CSV_RECORD_END}` : '';
}

/** One record as written, terminator included. */
export function formatRecord(format: AccountingFormat, record: AccountingRecord): string {
  if (format === 'jsonl') return `${jsonLine(record)}${JSONL_RECORD_END}`;
  return `${ACCOUNTING_COLUMNS.map((column) => csvField(record[column])).join(',')}${CSV_RECORD_END}`;
}

/** The file extension of a format. */
export function fileExtension(format: AccountingFormat): string {
  return format;
}
