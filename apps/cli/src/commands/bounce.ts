/**
 * `herald bounce classify FILE... [--details] [--explain] [--rules FILE | --config FILE]`: reads
 * each bounce message (a DSN, an MTA's text notice, an ARF complaint or an auto-reply) and prints
 * one JSON line per file: {"file": FILE, "recipients": [{"address", "reason", "hard", "status",
 * "action"}]}, with the category, reply code, command, remote host and diagnostic text under
 * --details and the deciding rule under --explain; operator rules come from --rules or the
 * config's bounce.rules_file. `herald bounce rules check FILE` runs a rules file's examples
 * (bounce-rules.ts). FILE `-` reads
 * stdin (like `suppression import -`). Of a file or stdin, at most the classifier's
 * MAX_MESSAGE_BYTES (1 MiB) is read. A file that cannot be read is reported on stderr and the
 * command exits 1 after the others.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import {
  type BounceReport,
  type Classification,
  type ClassifyOptions,
  classifyMessage,
  MAX_MESSAGE_BYTES,
} from '@herald/delivery-core/bounce';
import { parseCommandArgs, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo, InputStream } from '../io.js';
import { loadBounceRules, runRulesCheck } from './bounce-rules.js';

const STDIN = '-';

const help = `Usage: herald bounce classify FILE... [--details] [--explain] [--rules FILE | --config FILE]
       herald bounce rules check FILE

Classify bounce messages (raw RFC 5322 files: DSNs, MTA notices, ARF complaint reports,
auto-replies; - reads one from stdin; the first 1 MiB of each is read). Prints one JSON line
per file:

  {"file":"FILE","recipients":[{"address":"...","reason":"userunknown","hard":true,
   "status":"5.1.1","action":"suppress"}]}

reason is sisimai's vocabulary (userunknown, mailboxfull, expired, ...); hard is true when
the address will never accept mail; action is retry, bounce, suppress or none; complaint
reports add "feedbackType".

  --details   also print category, replyCode, command, remoteHost and the diagnostic text
  --explain   also print "rule": the rule or step that decided the reason (operator:NAME,
              provider:NAME, probe:REASON, second-pass:REASON, mta-phrase, format-stated,
              notice+subject/..., returned-bounce/..., nothing-found)
  --rules F   operator rules (YAML) tried before the built-in ones
  --config F  take the rules from the config's bounce.rules_file

rules check FILE: parse an operator rules file and run every rule's examples; prints one line
per failing example, exits 1 when one fails or the file is invalid.

Exits 0 when every file was read, 1 when one could not be.`;

const OPTIONS = {
  details: { type: 'boolean' },
  explain: { type: 'boolean' },
  rules: { type: 'string' },
  config: { type: 'string' },
} as const;

interface LineOptions {
  details: boolean;
  explain: boolean;
}

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

export function bounceLine(file: string, report: BounceReport, details: boolean | LineOptions): string {
  const shown = typeof details === 'boolean' ? { details, explain: false } : details;
  const recipients = report.recipients.map((c) => {
    const out = shown.details ? detailed(c) : brief(c);
    if (shown.explain) out['rule'] = c.rule;
    return out;
  });
  const line: Record<string, unknown> = { file, recipients };
  if (shown.details || shown.explain) line['kind'] = report.kind;
  return JSON.stringify(line);
}

async function runClassify(
  files: string[],
  shown: LineOptions,
  options: ClassifyOptions,
  io: CliIo,
): Promise<number> {
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
    io.stdout.write(`${bounceLine(file, classifyMessage(raw, options), shown)}\n`);
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('bounce', args, OPTIONS, true);
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'classify': {
      if (values.rules && values.config)
        throw usageError('bounce classify', 'give --rules or --config, not both');
      const rules = loadBounceRules(values.rules, values.config, io);
      const shown = { details: values.details === true, explain: values.explain === true };
      return await runClassify(rest, shown, rules ? { rules } : {}, io);
    }
    case 'rules': {
      const [verb, file, ...extra] = rest;
      if (verb !== 'check')
        throw usageError(
          'bounce rules',
          verb ? `unknown subcommand "${verb}"` : 'missing subcommand (check)',
        );
      if (!file) throw usageError('bounce rules check', 'missing FILE');
      if (extra.length > 0) throw usageError('bounce rules check', `unexpected argument "${extra[0]}"`);
      return runRulesCheck(file, io);
    }
    case undefined:
      throw usageError('bounce', 'missing subcommand (classify, rules check)');
    default:
      throw usageError('bounce', `unknown subcommand "${sub}"`);
  }
}

export const bounceCommand: Command = {
  name: 'bounce',
  synopsis: 'classify FILE... [--details] [--explain] [--rules FILE] | rules check FILE',
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
