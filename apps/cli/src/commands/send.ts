/**
 * `herald send`: submits test messages to a relay (or any SMTP server given explicitly) over one
 * SMTP session and prints the server's final reply per message on stdout, one line each;
 * refused recipients and failures without a reply go to stderr. Exit 0 only if every message was
 * accepted for every recipient. Never looks up MX records: the server is 127.0.0.1:2525 unless
 * --server names another.
 */
import { readFile } from 'node:fs/promises';
import { parseHostPort } from '@herald/delivery-core/config';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { parseCommandArgs, positiveInteger, usageError } from '../args.js';
import { CliExit, type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { SmtpSubmission, type SubmitTarget, type TlsChoice } from '../smtp-submit.js';
import { printableField } from '../terminal-text.js';

export const DEFAULT_SERVER = '127.0.0.1:2525';
/** Port used when --server names only a host: the relay's submission port. */
export const DEFAULT_SUBMISSION_PORT = 2525;
export const DEFAULT_FROM = 'herald@localhost';
export const DEFAULT_TO = 'test@example.com';
export const DEFAULT_SUBJECT = 'Herald test message';
export const DEFAULT_BODY = 'Hello from Herald.';
export const MAX_COUNT = 1_000_000;
/** Read by --user when --password is not given, so the password stays out of `ps`. */
export const PASSWORD_ENV = 'HERALD_SMTP_PASSWORD';

const help = `Usage: herald send [options]

Submit test messages over SMTP and print the server's reply to each, one line per
message (e.g. "250 2.0.0 Ok: queued as 3f2a…"). Exits 0 only if every message was
accepted for every recipient.

  --server HOST[:PORT]  SMTP server (default ${DEFAULT_SERVER}; port ${DEFAULT_SUBMISSION_PORT} if omitted)
  --from ADDR           envelope and From: sender (default ${DEFAULT_FROM})
  --to ADDR             recipient; repeat or comma-separate for several
                        (default ${DEFAULT_TO})
  --subject TEXT        Subject: (default "${DEFAULT_SUBJECT}")
  --body TEXT           plain-text body (default "${DEFAULT_BODY}")
  --file FILE           send this RFC 5322 message (.eml) as is instead of
                        composing one; --subject and --body do not apply
  --user NAME           AUTH as NAME; password from --password or $${PASSWORD_ENV}
  --password PASS       AUTH password
  --starttls            require STARTTLS (fail if the server does not offer it)
  --no-tls              never use STARTTLS
  --count N             send N messages over the same connection (default 1)
  --ehlo NAME           name to give in EHLO (default: this host's name)

TLS: STARTTLS is used whenever the server offers it, WITHOUT verifying the server's
certificate (a relay usually runs with a self-signed one). Do not send secrets over it
to a server you do not control.`;

const OPTIONS = {
  server: { type: 'string', default: DEFAULT_SERVER },
  from: { type: 'string', default: DEFAULT_FROM },
  to: { type: 'string', multiple: true },
  subject: { type: 'string', default: DEFAULT_SUBJECT },
  body: { type: 'string' },
  file: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  starttls: { type: 'boolean' },
  'no-tls': { type: 'boolean' },
  count: { type: 'string', default: '1' },
  ehlo: { type: 'string' },
} as const;

interface SendPlan {
  target: SubmitTarget;
  from: string;
  to: string[];
  count: number;
  /** Builds message number i (0-based); composed messages get a fresh Message-ID each. */
  message: (i: number) => Promise<Buffer>;
}

function parseServer(server: string): { host: string; port: number } {
  try {
    return parseHostPort(server, DEFAULT_SUBMISSION_PORT);
  } catch (err) {
    throw usageError('send', `--server: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readMessageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_FILE_UNREADABLE',
      `send: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

async function plan(args: string[], env: CliIo['env']): Promise<SendPlan> {
  const { values } = parseCommandArgs('send', args, OPTIONS);
  if (values.body !== undefined && values.file !== undefined)
    throw usageError('send', 'give --body or --file, not both');
  if (values.starttls && values['no-tls']) throw usageError('send', 'give --starttls or --no-tls, not both');
  const password = values.password ?? env[PASSWORD_ENV];
  if (values.user !== undefined && password === undefined) {
    throw usageError('send', `--user needs --password (or $${PASSWORD_ENV})`);
  }
  if (values.user === undefined && values.password !== undefined)
    throw usageError('send', '--password needs --user');
  const to = (values.to ?? [DEFAULT_TO])
    .flatMap((list) => list.split(','))
    .map((a) => a.trim())
    .filter(Boolean);
  if (to.length === 0) throw usageError('send', '--to: no recipient given');
  const tls: TlsChoice = values.starttls ? 'require' : values['no-tls'] ? 'none' : 'opportunistic';
  const { from, subject, file } = values;
  const text = values.body ?? DEFAULT_BODY;
  const raw = file === undefined ? undefined : await readMessageFile(file);
  return {
    target: {
      ...parseServer(values.server),
      tls,
      ehlo: values.ehlo,
      auth: values.user === undefined ? undefined : { user: values.user, pass: password ?? '' },
    },
    from,
    to,
    count: positiveInteger('send', 'count', values.count, MAX_COUNT),
    message: async () => raw ?? new MailComposer({ from, to, subject, text }).compile().build(),
  };
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { target, from, to, count, message } = await plan(args, io.env);
  const where = `${target.host}:${target.port}`;
  let session: SmtpSubmission;
  try {
    session = await SmtpSubmission.open(target);
  } catch (err) {
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_SMTP_FAILED',
      `send: ${where}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let failures = 0;
  try {
    for (let i = 0; i < count; i++) {
      if (!session.usable) {
        printError(
          io,
          'HERALD_SMTP_FAILED',
          `send: ${where}: connection lost; ${count - i} message(s) not sent`,
        );
        return EXIT_FAILURE;
      }
      const result = await session.send(from, to, await message(i));
      // The final reply on stdout when the message was queued (2xx); every failure on stderr as
      // `herald: HERALD_SMTP_FAILED: …`: a refusal of the whole message (at MAIL or DATA), an error,
      // each refused recipient (a refusal that only repeats a recipient's is not printed twice).
      const reply = result.reply;
      if (reply?.startsWith('2')) io.stdout.write(`${printableField(reply)}\n`);
      else if (reply !== undefined && !result.rejected.some((r) => r.reply === reply))
        printError(io, 'HERALD_SMTP_FAILED', `send: message ${i + 1}: ${reply}`);
      if (result.error !== undefined)
        printError(io, 'HERALD_SMTP_FAILED', `send: message ${i + 1}: ${result.error}`);
      for (const r of result.rejected)
        printError(io, 'HERALD_SMTP_FAILED', `send: ${r.recipient}: ${r.reply}`);
      if (!result.ok) {
        failures++;
        await session.reset();
      }
    }
  } finally {
    session.close();
  }
  return failures === 0 ? EXIT_OK : EXIT_FAILURE;
}

export const sendCommand: Command = {
  name: 'send',
  synopsis: '[--server H:P] [--from A] [--to A,...] [--body T | --file F] [--count N] ...',
  summary: 'submit test messages over SMTP and print the replies',
  help,
  run,
};
