/**
 * The accounting files on disk: `<directory>/herald-acct-YYYY-MM-DD.<csv|jsonl>`, one per UTC day
 * of the records' event time, and what their tail says after a crash. `scanFile` reads a file
 * once, front to back (CSV quoting makes a backward scan unsafe: a reply text may hold a line
 * that looks like a record), and finds where the last complete record ends (bytes after it are a
 * torn write) and the stream ids of the last records: the last id, where its run of records
 * starts, and the id before it. `cutFile` truncates. Needs only node:fs.
 */
import { open, readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountingFormat } from './format.js';

const FILE_PREFIX = 'herald-acct-';
const FILE_NAME = /^herald-acct-(\d{4}-\d{2}-\d{2})\.(csv|jsonl)$/;
/** Bytes read per step of a scan. */
const SCAN_CHUNK_BYTES = 1 << 20;
/** A record's first bytes hold its type, time and stream id (all ours, never quoted). */
const PREFIX_BYTES = 160;
const QUOTE = 0x22;
const LF = 0x0a;
const CSV_ID = /^[a-z]+,[^,]*,(\d+-\d+),/;
const JSONL_ID = /^\{"type":"[a-z]+","time":"[^"]*","stream_id":"(\d+-\d+)"/;

/** The UTC day of an epoch-ms time, "YYYY-MM-DD". */
export function utcDay(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

export function fileName(day: string, format: AccountingFormat): string {
  return `${FILE_PREFIX}${day}.${format}`;
}

/** The day before a "YYYY-MM-DD" day. */
function dayBefore(day: string): string {
  return utcDay(Date.parse(`${day}T00:00:00Z`) - 1);
}

/**
 * The files a restart must reconcile: the newest day's file and the one before it (records are
 * written in stream order; an event a few seconds before midnight may follow one just after it).
 * Paths, newest first; none when the directory has no file of this format.
 */
export async function newestFiles(directory: string, format: AccountingFormat): Promise<string[]> {
  const days = (await readdir(directory))
    .map((name) => FILE_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && m[2] === format)
    .map((m) => m[1]!)
    .sort()
    .reverse();
  const newest = days[0];
  if (newest === undefined) return [];
  const keep = new Set([newest, dayBefore(newest)]);
  return days.filter((d) => keep.has(d)).map((d) => join(directory, fileName(d, format)));
}

export interface FileTail {
  path: string;
  /** Size of the file when scanned. */
  size: number;
  /** Offset after the last complete record (or header): what follows is a torn write. */
  validEnd: number;
  /** Stream id of the last complete record, if any. */
  lastId?: string;
  /** Offset where the run of records with `lastId` starts. */
  lastRunStart: number;
  /** Stream id of the record before that run, if any. */
  previousId?: string;
}

/** Reads `path` front to back and reports its tail (see FileTail). */
export async function scanFile(path: string, format: AccountingFormat): Promise<FileTail> {
  const handle = await open(path, 'r');
  const idPattern = format === 'csv' ? CSV_ID : JSONL_ID;
  const tail: FileTail = { path, size: 0, validEnd: 0, lastRunStart: 0 };
  try {
    const buffer = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    let offset = 0;
    let inQuotes = false;
    let recordStart = 0;
    let prefix: number[] = [];
    let header = format === 'csv';
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, SCAN_CHUNK_BYTES, offset);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) {
        const byte = buffer[i]!;
        if (prefix.length < PREFIX_BYTES) prefix.push(byte);
        // RFC 4180: toggling on every quote is exact for finding record ends ("" toggles twice).
        if (byte === QUOTE && format === 'csv') inQuotes = !inQuotes;
        else if (byte === LF && !inQuotes) {
          const end = offset + i + 1;
          if (header) header = false;
          else {
            const id = idPattern.exec(Buffer.from(prefix).toString('latin1'))?.[1];
            if (id !== undefined && id !== tail.lastId) {
              if (tail.lastId !== undefined) tail.previousId = tail.lastId;
              tail.lastId = id;
              tail.lastRunStart = recordStart;
            }
          }
          tail.validEnd = end;
          recordStart = end;
          prefix = [];
        }
      }
      offset += bytesRead;
    }
    tail.size = offset;
    if (tail.lastId === undefined) tail.lastRunStart = tail.validEnd;
    return tail;
  } finally {
    await handle.close();
  }
}

/** Truncates `path` to `length` bytes. */
export async function cutFile(path: string, length: number): Promise<void> {
  await truncate(path, length);
}
