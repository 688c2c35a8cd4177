/**
 * RESP encoding of Redis commands (the request side of the Redis protocol: each command an array
 * of bulk strings), as ioredis' `Command#toWritable` writes them, for commands Herald encodes
 * itself (raw-transaction.ts). A string argument is written as UTF-8, a number as its decimal
 * string, a Buffer as its bytes (not copied until the one final concatenation). Pure.
 */

/** One argument of a command. */
export type RespArg = string | number | Buffer;

const MULTI = '*1\r\n$5\r\nMULTI\r\n';
const EXEC = '*1\r\n$4\r\nEXEC\r\n';

/**
 * Commands encoded one after another into one buffer; with `transaction`, between MULTI and EXEC
 * (which `commands` does not count).
 */
export class RespWriter {
  private readonly pieces: (string | Buffer)[] = [];
  /** Text not yet pushed to `pieces` (consecutive strings are joined before encoding once). */
  private text: string;
  private count = 0;

  constructor(readonly transaction = false) {
    this.text = transaction ? MULTI : '';
  }

  /** Appends one command: `name` then its arguments. */
  command(name: string, args: readonly RespArg[]): this {
    let text = `${this.text}*${args.length + 1}\r\n$${Buffer.byteLength(name)}\r\n${name}\r\n`;
    for (const arg of args) {
      if (typeof arg === 'string') text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      else if (typeof arg === 'number') {
        const digits = String(arg);
        text += `$${digits.length}\r\n${digits}\r\n`;
      } else {
        this.pieces.push(`${text}$${arg.length}\r\n`, arg);
        text = '\r\n';
      }
    }
    this.text = text;
    this.count += 1;
    return this;
  }

  /** How many commands were appended. */
  get commands(): number {
    return this.count;
  }

  /** The encoded commands as one buffer (ending with EXEC for a transaction). */
  toBuffer(): Buffer {
    const buffers: Buffer[] = [];
    for (const piece of this.pieces) buffers.push(typeof piece === 'string' ? Buffer.from(piece) : piece);
    buffers.push(Buffer.from(this.transaction ? this.text + EXEC : this.text));
    return buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  }
}
