/**
 * MTAs that write no DSN but always word a failure the same way (their source or documentation
 * gives the sentences): how to recognise the MTA from the bounce's own headers or notice, which
 * words name the failing SMTP command, and which words name the reason. A reason found here is
 * what the MTA states; the decision table may still refine a retryable one (decide.ts).
 */
import { header, headerAll, type MimeHeaders } from './mime.js';
import type { SmtpCommand } from './probes.js';
import type { Reason } from './vocabulary.js';

export interface MtaWording {
  name: string;
  /** Lower-case subjects of the bounce (whole value). */
  subjects?: readonly string[];
  /** Lower-case words of a Received field of the bounce. */
  received?: readonly string[];
  /** Lower-case words of the From field of the bounce. */
  from?: readonly string[];
  /** Lower-case words of the notice. */
  notice?: readonly string[];
  /** Header fields whose presence marks the MTA (lower-case names). */
  headers?: readonly string[];
  /** A header field with this value (lower case, trimmed) states the reason for every recipient. */
  headerReasons?: readonly (readonly [string, string, Reason])[];
  /** Words (lower case, white space collapsed) that name the failing command. */
  commands?: readonly (readonly [SmtpCommand, readonly string[]])[];
  /** Words that name the reason, tried in order. */
  reasons?: readonly (readonly [Reason, readonly string[]])[];
  /** Words that leave the reason to the decision table even when `reasons` match. */
  undecided?: readonly (readonly string[])[];
  /** A specific status code (not x.0.x) in the text names the reason instead of the words. */
  statusWins?: boolean;
}

export const MTA_WORDINGS: readonly MtaWording[] = [
  {
    // Gmail's own notices: "(state N)" is the SMTP stage the remote server refused at.
    name: 'gmail',
    from: ['<mailer-daemon@googlemail.com>'],
    statusWins: true,
    commands: [
      ['MAIL', ['(state 6)']],
      ['AUTH', ['(state 8)', '(state 9)', '(state 12)']],
      ['EHLO', ['(state 13)']],
      ['RCPT', ['(state 14)']],
      ['DATA', ['(state 15)', '(state 17)', '(state 18)']],
    ],
    reasons: [
      ['failedstarttls', ['(state 6)', '(state 9)']],
      ['systemerror', ['(state 8)']],
      ['norelaying', ['(state 12)']],
      ['userunknown', ['(state 14)']],
      ['filtered', ['(state 15)', '(state 17)', '(state 18)']],
      [
        'expired',
        [
          'dns error: could not contact dns servers',
          'delivery to the following recipient has been delayed',
          'the recipient server did not accept our requests to connect',
        ],
      ],
      [
        'hostunknown',
        ['dns error: domain name not found', 'dns error: dns server returned answer with no data'],
      ],
    ],
  },
  {
    // au (KDDI) EZweb's own notices; X-SPASIGN: NG marks mail its spam filter refused.
    name: 'ezweb',
    from: ['postmaster@ezweb.ne.jp', 'postmaster@au.com'],
    subjects: ['mail system error - returned mail'],
    headerReasons: [['x-spasign', 'ng', 'filtered']],
    reasons: [
      ['expired', ['your message was not delivered within ']],
      ['mailboxfull', ['the user(s) account is temporarily over quota']],
      ['suspend', ['the user(s) account is disabled.', 'the user(s) account is temporarily limited.']],
    ],
  },
  {
    // fml mailing list manager: X-MLServer; the reason is in the notice or else the Subject.
    name: 'fml',
    headers: ['x-mlserver'],
    reasons: [
      [
        'rejected',
        [
          ' header may cause mail loop',
          'not member article from ',
          'reject mail from ',
          'reject spammers:',
          'you are not a member of this mailing list',
          ' are not member',
          'spam mail from a spammer is rejected',
        ],
      ],
      ['securityerror', ['security alert']],
      [
        'systemerror',
        [
          ' has detected a loop condition so that',
          'loop back warning',
          'loop alert: ',
          'fml system error message',
          'unix from loop',
        ],
      ],
    ],
  },
  {
    // Progress iMail Server (X-Mailer: <SMTP32 vN>): "Unknown user: <rcpt>" states the reason.
    name: 'imail',
    subjects: ['undeliverable mail'],
    reasons: [
      ['hostunknown', ['unknown host']],
      ['userunknown', ['unknown user', 'invalid final delivery userid']],
      ['mailboxfull', ['user mailbox exceeds allowed size']],
      ['virusdetected', ['requested action not taken: virus detected']],
      ['spamdetected', ['blacklisted url in message']],
      ['expired', ['delivery failed ']],
    ],
  },
  {
    // Trend Micro InterScan MSS: "Unable to deliver message to <rcpt>" is its unknown-recipient notice.
    name: 'interscan',
    from: ['interscan'],
    subjects: ['mail could not be delivered'],
    notice: ['message from interscan messaging security suite'],
    reasons: [['userunknown', ['unable to deliver message to ']]],
  },
  {
    // qmail-send.c / qmail-remote.c and the qmail-ldap patch; Yahoo's "Failure Notice" too.
    name: 'qmail',
    subjects: ['failure notice'],
    received: ['(qmail '],
    notice: ['hi. this is the qmail'],
    commands: [
      ['CONN', [' but greeting failed.']],
      ['EHLO', [' but my name was rejected.']],
      ['MAIL', [' but sender was rejected.']],
      ['RCPT', [' does not like recipient.']],
      ['DATA', [' failed on data command', ' failed after i sent the message']],
    ],
    undecided: [[' does not like recipient.', 'this message has been in the queue too long.']],
    reasons: [
      ['hostunknown', ["sorry, i couldn't find any host "]],
      ['mailboxfull', ['disk quota exceeded']],
      ['mesgtoobig', ['message size exceeds fixed maximum message size:']],
      [
        'networkerror',
        [
          "sorry, i wasn't able to establish an smtp connection",
          "sorry. although i'm listed as a best-preference mx or a for that host",
        ],
      ],
      ['notaccept', ["sorry, i couldn't find a mail exchanger or ip address"]],
      ['systemfull', ['requested action not taken: mailbox unavailable (not enough free space)']],
      ['userunknown', ['no mailbox here by that name']],
      ['exceedlimit', ['the message exeeded the maximum size the user accepts']],
      ['suspend', ['mailaddress is administrativ']],
      [
        'systemerror',
        [
          'automatic homedir creator crashed',
          'illegal value in ldap attribute',
          'ldap attribute is not given but mandatory',
          'timeout while performing search on ldap server',
          'too many results returned but needs to be unique',
          'error while executing qmail-forward',
          'error in automatic homedir creation',
          'temporary failure in ldap lookup',
          'unable to contact ldap server',
          'unable to login into ldap server',
          'bad interpreter: no such file or directory',
          'system error',
          'unable to',
        ],
      ],
    ],
  },
];

/**
 * Bounce categories vendors write into their DSNs (PowerMTA's X-PowerMTA-BounceCategory, from its
 * documented category list); the decision table may still refine a retryable one.
 */
export const VENDOR_CATEGORY_REASONS: Readonly<Record<string, Reason>> = {
  'bad-domain': 'hostunknown',
  'bad-mailbox': 'userunknown',
  'inactive-mailbox': 'suspend',
  'message-expired': 'expired',
  'no-answer-from-host': 'networkerror',
  'policy-related': 'policyviolation',
  'quota-issues': 'mailboxfull',
  'routing-errors': 'systemerror',
  'spam-related': 'spamdetected',
};

function anyIn(value: string | undefined, words: readonly string[] | undefined): boolean {
  if (!value || !words) return false;
  const lower = value.toLowerCase();
  return words.some((word) => lower.includes(word));
}

/** The MTA whose wording this bounce uses, recognised by its headers or notice. */
export function mtaOf(headers: MimeHeaders, notice: string): MtaWording | undefined {
  const subject = (header(headers, 'subject') ?? '').trim().toLowerCase();
  const received = headerAll(headers, 'received');
  const from = header(headers, 'from');
  const head = notice.slice(0, 2000);
  return MTA_WORDINGS.find(
    (mta) =>
      (mta.subjects?.includes(subject) ?? false) ||
      (mta.headers?.some((name) => header(headers, name) !== undefined) ?? false) ||
      received.some((value) => anyIn(value, mta.received)) ||
      anyIn(from, mta.from) ||
      anyIn(head, mta.notice),
  );
}

/** The reason a header field of the bounce states (EZweb's X-SPASIGN: NG), if any. */
export function headerReason(mta: MtaWording, headers: MimeHeaders): Reason | undefined {
  return mta.headerReasons?.find(
    ([name, value]) => header(headers, name)?.trim().toLowerCase() === value,
  )?.[2];
}

/** The command and reason an MTA's wording states in `text` (normalised). */
export function mtaStatement(mta: MtaWording, text: string): { command?: SmtpCommand; reason?: Reason } {
  const found: { command?: SmtpCommand; reason?: Reason } = {};
  const command = mta.commands?.find(([, words]) => words.some((word) => text.includes(word)))?.[0];
  if (command) found.command = command;
  if (command === 'EHLO' || command === 'HELO') {
    found.reason = 'blocked';
    return found;
  }
  if (mta.undecided?.some((words) => words.every((word) => text.includes(word)))) return found;
  const reason = mta.reasons?.find(([, words]) => words.some((word) => text.includes(word)))?.[0];
  if (reason) found.reason = reason;
  return found;
}
