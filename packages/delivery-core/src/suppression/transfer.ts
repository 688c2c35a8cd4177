/**
 * CSV export and import of a tenant's suppression list, streaming both ways. The header row is
 * `address,reason,source,at,expires_at`; times are ISO 8601 (epoch milliseconds are read too),
 * `expires_at` is `never` for an entry that does not expire and empty on import for the reason's
 * default. Bad lines are reported with their line numbers; the good ones are imported. A cell a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, TAB, CR first) is exported with a
 * leading `'` (util's `guardFormula`, as the accounting log's CSV) and read back without it.
 */
import { StringDecoder } from 'node:string_decoder';
import { guardFormula, unguardFormula } from '../util/index.js';
import { CsvParser, type CsvRecord, formatCsvRow } from './csv.js';
import {
  DEFAULT_MANUAL_REASON,
  isSource,
  type SuppressionEntry,
  type SuppressionInput,
  type SuppressionSource,
} from './entries.js';
import type { SuppressionList } from './list.js';

export const CSV_COLUMNS = ['address', 'reason', 'source', 'at', 'expires_at'] as const;
type Column = (typeof CSV_COLUMNS)[number];
const NEVER = 'never';
/** Rows per addMany call during an import. */
const IMPORT_BATCH = 500;
/** Bytes gathered before one write during an export. */
const EXPORT_CHUNK_CHARS = 64 * 1024;

/** Where an export goes: a Writable, a CliIo stream. Backpressure is honoured when it has `once`. */
export interface CsvOutput {
  write(chunk: string): unknown;
  once?(event: 'drain', listener: () => void): unknown;
}

export interface ImportResult {
  /** Data rows read (header excluded). */
  rows: number;
  written: number;
  /** Already suppressed for at least as long. */
  kept: number;
  /** Rows whose expires_at had passed. */
  expired: number;
  problems: { line: number; message: string }[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function entryToCsv(entry: SuppressionEntry): string {
  return formatCsvRow(
    [
      entry.address,
      entry.reason,
      entry.source,
      iso(entry.at),
      entry.expiresAt === undefined ? NEVER : iso(entry.expiresAt),
    ].map(guardFormula),
  );
}

async function write(out: CsvOutput, chunk: string): Promise<void> {
  if (out.write(chunk) === false && out.once)
    await new Promise<void>((resolve) => out.once!('drain', resolve));
}

/** Writes the tenant's current entries as CSV; resolves with the number of rows. */
export async function exportCsv(list: SuppressionList, tenant: string, out: CsvOutput): Promise<number> {
  let chunk = formatCsvRow(CSV_COLUMNS);
  let rows = 0;
  for await (const entry of list.entries(tenant)) {
    chunk += entryToCsv(entry);
    rows++;
    if (chunk.length >= EXPORT_CHUNK_CHARS) {
      await write(out, chunk);
      chunk = '';
    }
  }
  if (chunk) await write(out, chunk);
  return rows;
}

/** A time column: ISO 8601 or epoch ms; NaN when it is neither. */
function parseTime(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : Date.parse(text);
}

function readHeader(record: CsvRecord): Column[] | string {
  if ('problem' in record) return record.problem;
  const names = record.fields.map((f) => f.trim().toLowerCase());
  const unknown = names.find((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
  if (unknown !== undefined || !names.includes('address'))
    return `expected a header row ${CSV_COLUMNS.join(',')} (address required, any order)${unknown === undefined ? '' : `; unknown column ${JSON.stringify(unknown)}`}`;
  if (new Set(names).size !== names.length) return 'a column is named twice in the header row';
  return names as Column[];
}

/** A data row as an input, 'expired', or the problem with it. */
function readRow(
  columns: Column[],
  fields: string[],
  source: SuppressionSource,
  now: number,
): SuppressionInput | 'expired' | string {
  if (fields.length !== columns.length) return `expected ${columns.length} fields, found ${fields.length}`;
  const value = (column: Column) => {
    const i = columns.indexOf(column);
    return i < 0 ? '' : unguardFormula(fields[i]!).trim();
  };
  const input: SuppressionInput = {
    address: value('address'),
    reason: value('reason') || DEFAULT_MANUAL_REASON,
    source,
  };
  const rowSource = value('source');
  if (rowSource) {
    if (!isSource(rowSource)) return `invalid source ${JSON.stringify(rowSource)}`;
    input.source = rowSource;
  }
  const at = value('at');
  if (at) {
    input.at = parseTime(at);
    if (Number.isNaN(input.at)) return `invalid time in at: ${JSON.stringify(at)}`;
  }
  const expires = value('expires_at');
  if (expires.toLowerCase() === NEVER) input.expiresAt = null;
  else if (expires) {
    input.expiresAt = parseTime(expires);
    if (Number.isNaN(input.expiresAt)) return `invalid time in expires_at: ${JSON.stringify(expires)}`;
    if (input.expiresAt <= now) return 'expired';
  }
  return input;
}

/**
 * Imports CSV rows into the tenant's list (merging: an address already suppressed for longer is
 * kept). Rows without a source get `options.source` (default `import`).
 */
export async function importCsv(
  list: SuppressionList,
  tenant: string,
  input: AsyncIterable<string | Buffer>,
  options: { source?: SuppressionSource; now?: number } = {},
): Promise<ImportResult> {
  const result: ImportResult = { rows: 0, written: 0, kept: 0, expired: 0, problems: [] };
  const source = options.source ?? 'import';
  const now = options.now ?? Date.now();
  const parser = new CsvParser();
  const decoder = new StringDecoder('utf8');
  let columns: Column[] | undefined;
  let batch: { line: number; input: SuppressionInput }[] = [];
  const flush = async () => {
    const added = await list.addMany(
      tenant,
      batch.map((b) => b.input),
    );
    result.written += added.written;
    result.kept += added.kept;
    for (const bad of added.invalid)
      result.problems.push({ line: batch[bad.index]!.line, message: bad.problem });
    batch = [];
  };
  const take = async (records: CsvRecord[]) => {
    for (const record of records) {
      if (!columns) {
        const header = readHeader(record);
        if (typeof header === 'string') {
          result.problems.push({ line: record.line, message: header });
          return false;
        }
        columns = header;
        continue;
      }
      result.rows++;
      if ('problem' in record) {
        result.problems.push({ line: record.line, message: record.problem });
        continue;
      }
      const row = readRow(columns, record.fields, source, now);
      if (row === 'expired') result.expired++;
      else if (typeof row === 'string') result.problems.push({ line: record.line, message: row });
      else batch.push({ line: record.line, input: row });
      if (batch.length >= IMPORT_BATCH) await flush();
    }
    return true;
  };
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (!(await take(parser.push(text)))) return result;
  }
  if (!(await take(parser.push(decoder.end())))) return result;
  if (!(await take(parser.end()))) return result;
  if (batch.length > 0) await flush();
  if (!columns) result.problems.push({ line: 1, message: 'empty file: expected a header row' });
  result.problems.sort((a, b) => a.line - b.line);
  return result;
}
