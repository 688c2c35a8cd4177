/**
 * Reads SMTP replies (RFC 5321 §4.2) from a remote server's byte stream, incrementally and in time
 * linear in the bytes received: `push(chunk)` returns the replies completed by it. Multi-line
 * replies ("250-first" … "250 last") come out as one reply. A hostile or broken server cannot make
 * it buffer without bound: a line longer than MAX_REPLY_LINE_OCTETS, a reply of more than
 * MAX_REPLY_LINES lines, a line that is not `<3 digits>[ -]text`, or a multi-line reply whose
 * lines carry different codes is a ReplyProtocolError.
 * Pure (no I/O); the SMTP wire (wire.ts) feeds it.
 */

/** RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers send a little more. */
export const MAX_REPLY_LINE_OCTETS = 4096;
/** An EHLO reply has one line per extension (about 10–20); more than this is not SMTP. */
export const MAX_REPLY_LINES = 200;

const LF = 0x0a;
const CR = 0x0d;

/** One complete reply: its basic code and the text of each line (after the code and separator). */
export interface RawReply {
  code: number;
  lines: string[];
}

export class ReplyProtocolError extends Error {
  override readonly name = 'ReplyProtocolError';
}

export class ReplyReader {
  /** Bytes of the line not yet ended by LF. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Lines of the multi-line reply being read. */
  private current: RawReply | undefined;

  /** Takes the next bytes from the server; returns the replies they complete (maybe none). */
  push(chunk: Buffer): RawReply[] {
    const done: RawReply[] = [];
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      if (lf < 0) break;
      this.addLine(this.takeLine(chunk, start, lf), done);
      start = lf + 1;
    }
    if (start < chunk.length) {
      this.partialLength += chunk.length - start;
      if (this.partialLength > MAX_REPLY_LINE_OCTETS)
        throw new ReplyProtocolError(`reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`);
      this.partial.push(chunk.subarray(start));
    }
    return done;
  }

  /** True when part of a reply has arrived but not its last line. */
  get midReply(): boolean {
    return this.current !== undefined || this.partialLength > 0;
  }

  /** The bytes before `lf` (with any pending partial line), without the trailing CR. */
  private takeLine(chunk: Buffer, start: number, lf: number): Buffer {
    let line = chunk.subarray(start, lf);
    if (this.partialLength > 0) {
      if (this.partialLength + line.length > MAX_REPLY_LINE_OCTETS)
        throw new ReplyProtocolError(`reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`);
      line = Buffer.concat([...this.partial, line]);
      this.partial = [];
      this.partialLength = 0;
    }
    if (line.length > MAX_REPLY_LINE_OCTETS)
      throw new ReplyProtocolError(`reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`);
    return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
  }

  private addLine(bytes: Buffer, done: RawReply[]): void {
    const code = replyCode(bytes);
    if (code === undefined) {
      const shown = bytes
        .subarray(0, 40)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '?');
      throw new ReplyProtocolError(`malformed reply line: "${shown}"`);
    }
    // "250-text" continues; "250 text" or a bare "250" ends the reply.
    const continues = bytes.length > 3 && bytes[3] === 0x2d;
    const text = bytes.length > 4 ? bytes.subarray(4).toString('utf8') : '';
    if (this.current) {
      // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code. "250-ok" then
      // "554 no" is neither a 250 nor a 554: deliver on it and the mail may be lost, bounce on
      // it and a delivered message bounces; a protocol error defers it.
      if (code !== this.current.code)
        throw new ReplyProtocolError(
          `multi-line reply changes its code from ${this.current.code} to ${code}`,
        );
      this.current.lines.push(text);
      if (this.current.lines.length > MAX_REPLY_LINES)
        throw new ReplyProtocolError(`reply of more than ${MAX_REPLY_LINES} lines`);
    } else {
      this.current = { code, lines: [text] };
    }
    if (!continues) {
      done.push(this.current);
      this.current = undefined;
    }
  }
}

/** The code of a reply line: three digits, the first 2–5, then the end, a space or a hyphen. */
function replyCode(line: Buffer): number | undefined {
  if (line.length < 3) return undefined;
  const [a, b, c] = [line[0]!, line[1]!, line[2]!];
  if (a < 0x32 || a > 0x35 || b < 0x30 || b > 0x39 || c < 0x30 || c > 0x39) return undefined;
  if (line.length > 3 && line[3] !== 0x20 && line[3] !== 0x2d) return undefined;
  return (a - 0x30) * 100 + (b - 0x30) * 10 + (c - 0x30);
}
