/**
 * The `herald` command: dispatches `herald <command> [args]`, prints help and version, and turns
 * every error into `herald: <code>: <message>` on stderr (a HeraldError or CliExit with its code,
 * anything else as HERALD_INTERNAL; exit 1, exit 2 for HERALD_CLI_USAGE), never a stack trace
 * unless HERALD_DEBUG=1. `main(argv, io)` is the
 * testable entry; running this file directly (tsx) or through bin/herald.mjs executes it.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { HeraldError } from '@herald/delivery-core';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, printError } from './command.js';
import { accountCommand } from './commands/account.js';
import { accountingCommand } from './commands/accounting.js';
import { benchCommand } from './commands/bench.js';
import { bounceCommand } from './commands/bounce.js';
import { bounceProcessorCommand } from './commands/bounce-processor.js';
import { configCommand } from './commands/config.js';
import { dkimCommand } from './commands/dkim.js';
import { doctorCommand } from './commands/doctor.js';
import { eventsCommand } from './commands/events.js';
import { hashPasswordCommand } from './commands/hash-password.js';
import { messageCommand } from './commands/message.js';
import { quarantineCommand } from './commands/quarantine.js';
import { queueCommand } from './commands/queue.js';
import { relayCommand } from './commands/relay.js';
import { sendCommand } from './commands/send.js';
import { shapingCommand } from './commands/shaping.js';
import { siteCommand } from './commands/site.js';
import { suppressionCommand } from './commands/suppression.js';
import { tenantCommand } from './commands/tenant.js';
import { tlsrptCommand } from './commands/tlsrpt.js';
import { versionCommand } from './commands/version.js';
import { webhookCommand } from './commands/webhook.js';
import { type CliIo, processIo } from './io.js';
import { redisUnreachableHint } from './relay-config.js';
import { cliVersion } from './version.js';

export const COMMANDS: readonly Command[] = [
  relayCommand,
  bounceProcessorCommand,
  configCommand,
  shapingCommand,
  siteCommand,
  tenantCommand,
  suppressionCommand,
  queueCommand,
  messageCommand,
  quarantineCommand,
  accountCommand,
  eventsCommand,
  accountingCommand,
  webhookCommand,
  tlsrptCommand,
  hashPasswordCommand,
  sendCommand,
  bounceCommand,
  doctorCommand,
  dkimCommand,
  benchCommand,
  versionCommand,
];
const HELP_FLAGS = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-V']);
const DEBUG_ENV = 'HERALD_DEBUG';
/** After main() settles, give stdout/stderr this long to drain before forcing the exit. */
const EXIT_GRACE_MS = 1_000;

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: herald <command> [options]

Commands:
${lines.join('\n')}

Run "herald <command> --help" for a command's options; "herald --version" for the version.
Set ${DEBUG_ENV}=1 to see stack traces of errors.
`;
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function commandHelp(command: Command): string {
  return `${command.help}\n`;
}

/** Only flags before a "--" terminator count as a request for help. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => HELP_FLAGS.has(a));
}

function reportError(err: unknown, io: CliIo, command: Command | undefined): number {
  const debug = io.env[DEBUG_ENV] === '1';
  const stack = debug && err instanceof Error && err.stack ? `${err.stack}\n` : '';
  if (err instanceof CliExit) {
    printError(io, err.code, err.message);
    io.stderr.write(stack);
    return err.exitCode;
  }
  if (err instanceof HeraldError) {
    printError(io, err.code, err.message);
    const hint = err.code === 'HERALD_REDIS_UNAVAILABLE' ? redisUnreachableHint(io) : undefined;
    if (hint) io.stderr.write(`hint: ${hint}\n`);
    io.stderr.write(stack);
    if (err.code !== 'HERALD_CLI_USAGE') return EXIT_FAILURE;
    io.stderr.write(`Run "herald ${command ? `${command.name} ` : ''}--help" for usage.\n`);
    return EXIT_USAGE;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(io, 'HERALD_INTERNAL', `unexpected error: ${message}`);
  io.stderr.write(stack || `(set ${DEBUG_ENV}=1 for a stack trace)\n`);
  return EXIT_FAILURE;
}

async function dispatch(
  argv: string[],
  io: CliIo,
): Promise<{ code: number } | { command: Command; args: string[] }> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(usage());
    return { code: EXIT_USAGE };
  }
  if (HELP_FLAGS.has(first) || first === 'help') {
    const topic = rest[0] === undefined ? undefined : findCommand(rest[0]);
    if (rest[0] !== undefined && !topic) {
      printError(io, 'HERALD_CLI_USAGE', `unknown command "${rest[0]}"`);
      io.stderr.write(`\n${usage()}`);
      return { code: EXIT_USAGE };
    }
    io.stdout.write(topic ? commandHelp(topic) : usage());
    return { code: EXIT_OK };
  }
  if (VERSION_FLAGS.has(first)) {
    io.stdout.write(`${cliVersion()}\n`);
    return { code: EXIT_OK };
  }
  const command = findCommand(first);
  if (!command) {
    printError(io, 'HERALD_CLI_USAGE', `unknown command "${first}"`);
    io.stderr.write(`\n${usage()}`);
    return { code: EXIT_USAGE };
  }
  if (!command.ownsHelp && asksForHelp(rest)) {
    io.stdout.write(commandHelp(command));
    return { code: EXIT_OK };
  }
  return { command, args: rest };
}

/** Runs `herald <argv...>` and resolves with the exit code; never rejects. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let command: Command | undefined;
  try {
    const next = await dispatch(argv, io);
    if ('code' in next) return next.code;
    command = next.command;
    return await command.run(next.args, io);
  } catch (err) {
    return reportError(err, io, command);
  }
}

/** For bin/herald.mjs and direct runs: main() on process.argv, then exit with its code. */
export async function runMain(argv: string[] = process.argv.slice(2)): Promise<void> {
  const code = await main(argv);
  process.exitCode = code;
  // Exit naturally once output drains; force it if a stray handle (a client socket) lingers.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) void runMain();
