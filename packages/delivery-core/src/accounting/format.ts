/**
 * How records are written: CSV (RFC 4180: a header line per file, CRLF after each record, a field
 * quoted when it holds a comma, a double quote, CR or LF, quotes doubled) or JSON lines (one object
 * per LF-terminated line, keys in column order; JSON escapes every control character). Text from
 * the network (reply texts, host names) is always inside one field: it can never end a record or
 * start a forged one. Pure: no I/O.
 */
import type { AccountingRecord } from './records.js';
import { ACCOUNTING_COLUMNS } from './records.js';

export type AccountingFormat = 'csv' | 'jsonl';

const CSV_RECORD_END = '\r\n';
const JSONL_RECORD_END = '\n';
const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The first line of a CSV file (JSON lines have none). */
export function fileHeader(format: AccountingFormat): string {
  return format === 'csv' ? `${ACCOUNTING_COLUMNS.join(',')}${CSV_RECORD_END}` : '';
}

/** One record as written, terminator included. */
export function formatRecord(format: AccountingFormat, record: AccountingRecord): string {
  if (format === 'jsonl') return `${JSON.stringify(record)}${JSONL_RECORD_END}`;
  return `${ACCOUNTING_COLUMNS.map((column) => csvField(record[column])).join(',')}${CSV_RECORD_END}`;
}

/** The file extension of a format. */
export function fileExtension(format: AccountingFormat): string {
  return format;
}
