/**
 * Test helper: a CliIo whose stdout and stderr are captured strings, stdin is the given text (a
 * pipe, not a TTY) and env is exactly what the test passes — so main(argv, io) runs in-process.
 */
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import type { CliIo, Env } from '../src/io.js';

export interface Captured {
  io: CliIo;
  stdout(): string;
  stderr(): string;
}

export function captureIo(
  options: { stdin?: string; env?: Env; cwd?: string; checkout?: string } = {},
): Captured {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => (out += chunk) },
    stderr: { write: (chunk: string) => (err += chunk) },
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    env: options.env ?? {},
    // Outside any checkout: a .herald/herald.yaml of a local `npm start` never leaks into a test.
    cwd: options.cwd ?? tmpdir(),
    ...('checkout' in options ? { checkout: options.checkout } : {}),
  };
  return { io, stdout: () => out, stderr: () => err };
}
