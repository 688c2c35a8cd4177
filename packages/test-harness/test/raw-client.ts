/**
 * A raw SMTP client for the sink's chaos tests: it sends bytes as given (pipelined or not) and
 * records every chunk it receives with its arrival time, so a test can see a reply that never
 * comes, one that comes byte by byte, and a FIN or reset. Owns: one socket. Guarantees: every wait
 * is bounded (WAIT_MS); destroy() ends the socket.
 */
import net from 'node:net';

const WAIT_MS = 5_000;
const POLL_MS = 5;
const FINAL_LINE = /^(\d{3})(?: [^\r\n]*)?\r\n/m;

export class RawClient {
  readonly chunks: { at: number; text: string }[] = [];
  /** Set when the peer closed its side (FIN) or the socket closed. */
  ended = false;
  closed = false;
  private buffer = '';
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.chunks.push({ at: Date.now(), text });
      this.buffer += text;
    });
    socket.on('end', () => {
      this.ended = true;
    });
    socket.on('close', () => {
      this.ended = true;
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static connect(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns its reply. */
  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** The next complete reply (multi-line replies joined with "\n", no final CRLF). */
  async reply(timeoutMs = WAIT_MS): Promise<string> {
    const reply = await this.until(() => this.takeReply() ?? (this.ended ? null : undefined), timeoutMs);
    if (reply === null) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
    return reply;
  }

  /** Resolves once the peer has closed (FIN or reset). */
  async waitEnded(timeoutMs = WAIT_MS): Promise<void> {
    await this.until(() => this.ended || undefined, timeoutMs);
  }

  /** True when nothing arrives (and the connection stays up) for `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    const before = this.chunks.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.chunks.length === before && !this.ended;
  }

  /** Everything received and not yet taken as a reply. */
  get unread(): string {
    return this.buffer;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private takeReply(): string | undefined {
    const match = FINAL_LINE.exec(this.buffer);
    if (!match || match.index === undefined) return undefined;
    const end = match.index + match[0].length;
    const reply = this.buffer.slice(0, end - 2).replace(/\r\n/g, '\n');
    this.buffer = this.buffer.slice(end);
    return reply;
  }

  private async until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`nothing within ${timeoutMs} ms; unread: ${this.buffer}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
