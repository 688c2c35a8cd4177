/**
 * node:util parseArgs with Herald's error convention: anything wrong on the command line becomes
 * HeraldError('HERALD_CLI_USAGE') naming the command, so main prints one line and exits 2.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { HeraldError } from '@herald/delivery-core';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

export function usageError(command: string, message: string): HeraldError {
  return new HeraldError('HERALD_CLI_USAGE', `${command}: ${message}`);
}

export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  allowPositionals = false,
): ParsedArgs<O> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw usageError(command, message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** A positive integer flag value, e.g. --count. */
export function positiveInteger(command: string, flag: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw usageError(
      command,
      `--${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}
