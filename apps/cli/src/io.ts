/**
 * The streams and environment a command runs with. Commands write only through a CliIo, so tests
 * run them in-process with captured output; `processIo()` is the real terminal.
 */
import type { Readable } from 'node:stream';

export type Env = Record<string, string | undefined>;

/** Anything with write(string) — process.stdout, a PassThrough, a test capture. */
export interface OutputStream {
  write(chunk: string): unknown;
}

export interface InputStream extends Readable {
  /** Set (true) on a terminal; absent or false for pipes and files. */
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  stdin: InputStream;
  env: Env;
  /** The working directory (maintenance commands look for npm start's config from here); default process.cwd(). */
  cwd?: string;
  /**
   * The Herald checkout whose npm start config may be used (tests pass a scratch one, or
   * undefined for none); when the key is absent, the checkout this CLI's code lives in.
   */
  checkout?: string | undefined;
  /** Stops a long-running command (`events tail --follow`) as SIGINT would; tests abort it. */
  signal?: AbortSignal;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}
