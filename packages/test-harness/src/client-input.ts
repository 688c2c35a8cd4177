/**
 * Splits what an SMTP client sends into command lines and message bodies, the way a server reads
 * it: lines end in LF (CRLF or bare LF), and after `startBody()` (the server sent 354) everything up
 * to and including the final "<CRLF>.<CRLF>" is body ("." alone on the first line ends an empty
 * body). Linear in its input; a partial line longer than MAX_LINE_BYTES is passed on as raw bytes
 * (the server refuses it) and the rest of that line becomes one '<overlong>' command.
 * Pure; used by the reply gate (reply-gate.ts).
 */

/** Longer than any SMTP command line (RFC 5321: 512 octets; smtp-server's own limit is lower). */
export const MAX_LINE_BYTES = 64 * 1024;
const END_OF_DATA = Buffer.from('\r\n.\r\n');
const LF = 0x0a;
const CR = 0x0d;
/** Bytes of body kept between chunks to find a terminator split across them. */
const BODY_TAIL_BYTES = END_OF_DATA.length - 1;
const OVERLONG = '<overlong>';

export type InputPiece =
  /** One command: the line without its line end, and its exact bytes (line end included). */
  | { kind: 'command'; line: string; bytes: Buffer }
  /** Body bytes; `end` when they finish with the final dot line. */
  | { kind: 'body'; bytes: Buffer; end: boolean }
  /** Bytes of an overlong line, passed on as they are. */
  | { kind: 'raw'; bytes: Buffer };

export class ClientInput {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private overlong = false;
  private inBody = false;
  /** The last body bytes seen (starts as CRLF: a body may be just ".<CRLF>"). */
  private tail = Buffer.from('\r\n');

  get readingBody(): boolean {
    return this.inBody;
  }

  /** The server answered DATA with 354: what follows is the message. */
  startBody(): void {
    this.inBody = true;
    this.tail = Buffer.from('\r\n');
  }

  push(chunk: Buffer): InputPiece[] {
    const pieces: InputPiece[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inBody) {
        pos = this.readBody(chunk, pos, pieces);
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.keepPartial(chunk.subarray(pos), pieces);
        break;
      }
      const bytes = this.takeLine(chunk.subarray(pos, lf + 1));
      pieces.push({ kind: 'command', line: this.overlong ? OVERLONG : lineText(bytes), bytes });
      this.overlong = false;
      pos = lf + 1;
    }
    return pieces;
  }

  private readBody(chunk: Buffer, pos: number, pieces: InputPiece[]): number {
    const rest = chunk.subarray(pos);
    const joined = Buffer.concat([this.tail, rest]);
    const found = joined.indexOf(END_OF_DATA);
    if (found < 0) {
      pieces.push({ kind: 'body', bytes: rest, end: false });
      this.tail = joined.subarray(Math.max(0, joined.length - BODY_TAIL_BYTES));
      return chunk.length;
    }
    const endInRest = found + END_OF_DATA.length - this.tail.length;
    pieces.push({ kind: 'body', bytes: rest.subarray(0, endInRest), end: true });
    this.inBody = false;
    return pos + endInRest;
  }

  private keepPartial(bytes: Buffer, pieces: InputPiece[]): void {
    if (this.overlong) {
      pieces.push({ kind: 'raw', bytes });
      return;
    }
    this.partial.push(bytes);
    this.partialBytes += bytes.length;
    if (this.partialBytes <= MAX_LINE_BYTES) return;
    pieces.push({ kind: 'raw', bytes: Buffer.concat(this.partial) });
    this.partial = [];
    this.partialBytes = 0;
    this.overlong = true;
  }

  private takeLine(end: Buffer): Buffer {
    if (this.partial.length === 0) return end;
    const bytes = Buffer.concat([...this.partial, end]);
    this.partial = [];
    this.partialBytes = 0;
    return bytes;
  }
}

function lineText(bytes: Buffer): string {
  let end = bytes.length - 1; // the LF
  if (end > 0 && bytes[end - 1] === CR) end--;
  return bytes.subarray(0, end).toString('latin1');
}
