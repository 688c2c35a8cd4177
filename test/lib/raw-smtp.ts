/**
 * A line-level SMTP client for checks nodemailer hides (EHLO keywords, a declared SIZE= that
 * nodemailer would refuse on the client side, raw bytes in DATA, a client that drips or never
 * finishes). Owns: one TCP socket. Guarantees: `command` / `read` resolve with the complete
 * (possibly multi-line) reply; `ended` resolves once the server closed the connection; close()
 * destroys the socket. Needs injected: host and port (and optionally the local address to bind).
 */
import net from 'node:net';

const REPLY_TIMEOUT_MS = 10_000;
const FINAL_LINE = /^(\d{3}) .*\r\n/m;

export interface RawReply {
  code: number;
  /** All lines, CRLF-separated, without the final CRLF. */
  text: string;
  lines: string[];
}

export class RawSmtp {
  private buffer = '';
  private pending: ((reply: RawReply) => void) | undefined;
  private serverEnded = false;
  /** Resolves once the server ended the connection (FIN or reset) or close() was called. */
  readonly ended: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.deliver();
    });
    socket.on('error', () => {});
    this.ended = new Promise((resolve) => {
      const done = () => {
        this.serverEnded = true;
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  /** Connects (from `localAddress` when given) and returns the client with the greeting. */
  static async connect(
    host: string,
    port: number,
    opts: { localAddress?: string } = {},
  ): Promise<{ client: RawSmtp; greeting: RawReply }> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port, ...opts }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawSmtp(socket);
    return { client, greeting: await client.read() };
  }

  /** Sends one command line (CRLF added) and resolves with the reply. */
  command(line: string): Promise<RawReply> {
    const reply = this.read();
    this.socket.write(`${line}\r\n`);
    return reply;
  }

  /** Writes bytes as they are (no CRLF added); false once the connection is gone. */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || this.serverEnded) return false;
    this.socket.write(data);
    return true;
  }

  /** True once the server ended the connection. */
  get isEnded(): boolean {
    return this.serverEnded;
  }

  /** True when a complete reply is waiting to be read. */
  get hasReply(): boolean {
    return FINAL_LINE.test(this.buffer);
  }

  close(): void {
    this.socket.destroy();
  }

  /** The next reply from the server (e.g. one sent without a command, like a 421). */
  read(): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no SMTP reply within ${REPLY_TIMEOUT_MS} ms`)),
        REPLY_TIMEOUT_MS,
      );
      this.pending = (reply) => {
        clearTimeout(timer);
        resolve(reply);
      };
      this.deliver();
    });
  }

  private deliver(): void {
    if (!this.pending) return;
    const match = FINAL_LINE.exec(this.buffer);
    if (!match || match.index === undefined) return;
    const end = match.index + match[0].length;
    const text = this.buffer.slice(0, end - 2);
    this.buffer = this.buffer.slice(end);
    const resolve = this.pending;
    this.pending = undefined;
    resolve({ code: Number(match[1]), text, lines: text.split('\r\n') });
  }
}
