/**
 * `herald hash-password [--password-stdin]`: prints the scrypt hash of a password, in the form
 * `smtp.users[].password_hash` accepts. Reads the first line of stdin when it is not a terminal
 * (or with --password-stdin); at a terminal, asks twice without echo and checks both match.
 */
import { hashPassword } from '@herald/delivery-core';
import { parseCommandArgs } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { promptHidden, readFirstLine } from '../password-input.js';

const help = `Usage: herald hash-password [--password-stdin]

Print a hash of a password for \`password_hash:\` under smtp.users in the config
(scrypt$16384$8$1$<salt>$<hash>).

  --password-stdin   read the password from the first line of stdin (the default
                     whenever stdin is not a terminal), e.g.
                       printf '%s\\n' "$PW" | herald hash-password --password-stdin

At a terminal it asks twice without echoing and checks the two match.`;

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (fromStdin || !io.stdin.isTTY) {
    const password = await readFirstLine(io.stdin);
    if (password === '')
      throw new CliExit(
        EXIT_FAILURE,
        'HERALD_INPUT_INVALID',
        'hash-password: no password on stdin (empty first line)',
      );
    return password;
  }
  const [first = '', second] = await promptHidden(io.stdin, io.stderr, ['Password: ', 'Repeat password: ']);
  if (first === '') throw new CliExit(EXIT_FAILURE, 'HERALD_INPUT_INVALID', 'hash-password: empty password');
  if (first !== second)
    throw new CliExit(EXIT_FAILURE, 'HERALD_INPUT_INVALID', 'hash-password: the passwords do not match');
  return first;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('hash-password', args, { 'password-stdin': { type: 'boolean' } });
  const password = await readPassword(io, values['password-stdin'] === true);
  io.stdout.write(`${await hashPassword(password)}\n`);
  return EXIT_OK;
}

export const hashPasswordCommand: Command = {
  name: 'hash-password',
  synopsis: '[--password-stdin]',
  summary: 'hash a password for smtp.users[].password_hash',
  help,
  run,
};
