/**
 * `herald bounce classify FILE... [--details]`: reads each bounce message (a DSN, an MTA's text
 * notice, an ARF complaint or an auto-reply) and prints one JSON line per file:
 * {"file": FILE, "recipients": [{"address", "reason", "hard", "status", "action"}]}, with the
 * category, reply code, command, remote host and diagnostic text under --details. FILE `-` reads
 * stdin (like `suppression import -`). Of a file or stdin, at most the classifier's
 * MAX_MESSAGE_BYTES (1 MiB) is read. A file that cannot be read is reported on stderr and the
 * command exits 1 after the others.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import {
  type BounceReport,
  type Classification,
  classifyMessage,
  MAX_MESSAGE_BYTES,
} from '@herald/delivery-core/bounce';
import { parseCommandArgs, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo, InputStream } from '../io.js';

const STDIN = '-';

const help = `Usage: herald bounce classify FILE... [--details]

Classify bounce messages (raw RFC 5322 files: DSNs, MTA notices, ARF complaint reports,
auto-replies; - reads one from stdin; the first 1 MiB of each is read). Prints one JSON line
per file:

  {"file":"FILE","recipients":[{"address":"...","reason":"userunknown","hard":true,
   "status":"5.1.1","action":"suppress"}]}

reason is sisimai's vocabulary (userunknown, mailboxfull, expired, ...); hard is true when
the address will never accept mail; action is retry, bounce, suppress or none; complaint
reports add "feedbackType".

  --details   also print category, replyCode, command, remoteHost and the diagnostic text

Exits 0 when every file was read, 1 when one could not be.`;

const OPTIONS = {
  details: { type: 'boolean' },
} as const;

function brief(c: Classification): Record<string, unknown> {
  const out: Record<string, unknown> = {
    address: c.address,
    reason: c.reason,
    hard: c.hard,
    status: c.status,
    action: c.action,
  };
  if (c.feedbackType) out['feedbackType'] = c.feedbackType;
  return out;
}

function detailed(c: Classification): Record<string, unknown> {
  return {
    ...brief(c),
    category: c.category,
    replyCode: c.replyCode ?? null,
    command: c.command ?? null,
    remoteHost: c.remoteHost ?? null,
    diagnostic: c.diagnostic.replace(/\s+/g, ' ').trim(),
  };
}

export function bounceLine(file: string, report: BounceReport, details: boolean): string {
  const recipients = report.recipients.map(details ? detailed : brief);
  const line: Record<string, unknown> = { file, recipients };
  if (details) line['kind'] = report.kind;
  return JSON.stringify(line);
}

async function runClassify(files: string[], details: boolean, io: CliIo): Promise<number> {
  if (files.length === 0) throw usageError('bounce classify', 'missing FILE');
  if (files.filter((file) => file === STDIN).length > 1)
    throw usageError('bounce classify', 'stdin (-) can be given once');
  let failed = false;
  for (const file of files) {
    let raw: Buffer;
    try {
      raw =
        file === STDIN
          ? await readStreamHead(io.stdin, MAX_MESSAGE_BYTES)
          : readHead(file, MAX_MESSAGE_BYTES);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      printError(io, 'HERALD_FILE_UNREADABLE', `bounce classify: ${message}`);
      failed = true;
      continue;
    }
    io.stdout.write(`${bounceLine(file, classifyMessage(raw), details)}\n`);
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('bounce', args, OPTIONS, true);
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'classify':
      return await runClassify(rest, values.details === true, io);
    case undefined:
      throw usageError('bounce', 'missing subcommand (classify)');
    default:
      throw usageError('bounce', `unknown subcommand "${sub}"`);
  }
}

export const bounceCommand: Command = {
  name: 'bounce',
  synopsis: 'classify FILE... [--details]',
  summary: 'classify bounce messages: reason, hard/soft, action per recipient',
  help,
  run,
};

/** At most the first `maxBytes` of a stream (stdin); stops reading there. */
async function readStreamHead(stream: InputStream, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(bytes.subarray(0, maxBytes - length));
    length += Math.min(bytes.length, maxBytes - length);
    if (length >= maxBytes) break;
  }
  return Buffer.concat(chunks, length);
}

/** At most the first `maxBytes` of a file (the classifier reads no more): /dev/zero is no trap. */
function readHead(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    let filled = 0;
    while (filled < maxBytes) {
      const read = readSync(fd, buffer, filled, maxBytes - filled, null);
      if (read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}
