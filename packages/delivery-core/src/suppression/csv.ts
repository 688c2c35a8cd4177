/**
 * CSV as the suppression import/export speaks it (RFC 4180): comma-separated, fields quoted when
 * they hold a comma, quote or line break, quotes doubled inside, CRLF or LF line ends. The parser
 * is incremental (chunks of any size, records may span chunks) and reports a bad record with its
 * line number instead of throwing, then goes on with the next line. A U+FFFD replacement character
 * (what bytes that are not UTF-8 decode to; never part of an address) makes its record bad. (Why not csv-parse: measured in
 * ARCHITECTURE.md, "Own code where a kept library exists": it loses good rows after a bad one.)
 */

/** A record longer than this is refused (no address line is anywhere near it). */
export const MAX_RECORD_CHARS = 4_096;

/** What a UTF-8 decoder yields for bytes that are not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';

export type CsvRecord = { line: number; fields: string[] } | { line: number; problem: string };

type State = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteInQuoted' | 'skipLine';

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function formatCsvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatCsvRow(fields: readonly string[]): string {
  return `${fields.map(formatCsvField).join(',')}\r\n`;
}

export class CsvParser {
  private state: State = 'fieldStart';
  private fields: string[] = [];
  private field = '';
  private line = 1;
  private recordLine = 1;
  private recordChars = 0;
  private problem: string | undefined;

  /** Feeds text; returns the records completed by it. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    for (let i = 0; i < text.length; i++) this.take(text[i]!, out);
    return out;
  }

  /** Ends the input; returns the last record, if any. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.state === 'quoted') this.fail('unterminated quoted field');
    if (this.state === 'skipLine' || this.problem) {
      out.push({ line: this.recordLine, problem: this.problem ?? 'bad record' });
    } else if (this.fields.length > 0 || this.field !== '' || this.state !== 'fieldStart') {
      this.fields.push(this.field);
      out.push({ line: this.recordLine, fields: this.fields });
    }
    this.reset();
    return out;
  }

  private take(ch: string, out: CsvRecord[]): void {
    if (++this.recordChars > MAX_RECORD_CHARS && this.state !== 'skipLine') this.fail('record too long');
    if (ch === REPLACEMENT_CHARACTER && this.state !== 'skipLine') this.fail('not valid UTF-8');
    switch (this.state) {
      case 'skipLine':
        if (ch === '\n') this.finishRecord(out);
        return;
      case 'quoted':
        if (ch === '"') this.state = 'quoteInQuoted';
        else {
          if (ch === '\n') this.line++;
          this.field += ch;
        }
        return;
      case 'quoteInQuoted':
        if (ch === '"') {
          this.field += '"';
          this.state = 'quoted';
        } else if (ch === ',') this.nextField();
        else if (ch === '\n') this.finishRecord(out);
        else if (ch !== '\r') this.fail('unexpected character after a closing quote');
        return;
      default:
        if (ch === ',') this.nextField();
        else if (ch === '\n') this.finishRecord(out);
        else if (ch === '\r') return;
        else if (ch === '"') {
          if (this.state === 'fieldStart') this.state = 'quoted';
          else this.fail('a quote inside an unquoted field');
        } else {
          this.field += ch;
          this.state = 'unquoted';
        }
    }
  }

  private nextField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.state = 'fieldStart';
  }

  private fail(problem: string): void {
    this.problem ??= problem;
    this.state = 'skipLine';
  }

  private finishRecord(out: CsvRecord[]): void {
    if (this.problem) out.push({ line: this.recordLine, problem: this.problem });
    else if (this.fields.length > 0 || this.field !== '') {
      this.fields.push(this.field);
      out.push({ line: this.recordLine, fields: this.fields });
    }
    this.line++;
    this.reset();
  }

  private reset(): void {
    this.state = 'fieldStart';
    this.fields = [];
    this.field = '';
    this.problem = undefined;
    this.recordLine = this.line;
    this.recordChars = 0;
  }
}
