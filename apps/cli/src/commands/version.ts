/** `herald version` (also `herald --version`): prints the CLI package version. */
import { parseCommandArgs } from '../args.js';
import { type Command, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { cliVersion } from '../version.js';

async function run(args: string[], io: CliIo): Promise<number> {
  parseCommandArgs('version', args, {});
  io.stdout.write(`${cliVersion()}\n`);
  return EXIT_OK;
}

export const versionCommand: Command = {
  name: 'version',
  synopsis: '',
  summary: 'print the version',
  help: 'Usage: herald version   (or herald --version)\n\nPrint the version of the herald command.',
  run,
};
