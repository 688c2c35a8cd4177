/**
 * What every `herald <command>` module exports, plus CliExit: a failure that needs only a
 * one-line message and carries its exit code and its `HERALD_*` code (errors/index.ts's
 * catalogue), and printError: how a command reports a failure it goes on from
 * (`herald: <code>: <message>`).
 */
import { formatCliError, type HeraldErrorCode } from '@herald/delivery-core';
import type { CliIo } from './io.js';
import { printable } from './terminal-text.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report an interrupted command. */
export const EXIT_INTERRUPTED = 130;

export interface Command {
  name: string;
  /** Arguments after the name for `herald --help`, e.g. "check FILE [--json]". */
  synopsis: string;
  /** What it does, a few words for `herald --help`. */
  summary: string;
  /** Full text for `herald <command> --help`. */
  help: string;
  /** True when the command handles --help itself (bench delegates to its own parser). */
  ownsHelp?: boolean;
  run(args: string[], io: CliIo): Promise<number>;
}

export class CliExit extends Error {
  readonly exitCode: number;
  readonly code: HeraldErrorCode;
  constructor(exitCode: number, code: HeraldErrorCode, message: string) {
    super(message);
    this.name = 'CliExit';
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** Writes `herald: <code>: <line>` for each line of `message` to stderr, control characters escaped. */
export function printError(io: CliIo, code: HeraldErrorCode, message: string): void {
  io.stderr.write(printable(formatCliError(code, message)));
}
