/**
 * The ordered decision table. A failure is described by a `Fact` (diagnostic text, status code,
 * reply code, SMTP command, DSN action); the first probe of FIRST_PASS that matches names the
 * reason. When none does, SECOND_PASS looks for phrases alone (only while the status code is
 * unspecific), then the status code's own reason, then the fallbacks in decide.ts.
 *
 * A probe matches when ANY of its positive tests holds (status names the reason, reply code is
 * listed, a phrase of `phrasesOf` is in the text) and NONE of its vetoes does. Every probe carries
 * an example that test/bounce-rules.test.ts runs through the decision.
 */
import type { Reason } from './vocabulary.js';

export type SmtpCommand = 'CONN' | 'EHLO' | 'HELO' | 'STARTTLS' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA';

/** Commands that come before the message content is sent: content filters cannot have fired. */
export const BEFORE_DATA: readonly SmtpCommand[] = [
  'CONN',
  'EHLO',
  'HELO',
  'STARTTLS',
  'AUTH',
  'MAIL',
  'RCPT',
];

export interface Fact {
  /** Diagnostic text as the reporting MTA wrote it (any case, may span lines). */
  diagnostic: string;
  /** Enhanced status code, e.g. "5.1.1". */
  status?: string;
  /** Basic SMTP reply code, e.g. 550. */
  replyCode?: number;
  command?: SmtpCommand;
  /** DSN Action: failed, delayed, delivered, relayed, expanded. */
  action?: string;
  /** The Diagnostic-Code type: "SMTP", "X-Unix", "X-Postfix"... */
  diagnosticType?: string;
  /** A reason the message format itself states (an ARF report, an auto-reply, an MTA's own words). */
  reason?: Reason;
}

export interface Probe {
  reason: Reason;
  /** The status code's own reason is this reason. */
  byStatus?: boolean;
  replyCodes?: readonly number[];
  /** Phrases of these reasons found in the text (default: none). */
  phrasesOf?: readonly Reason[];
  /** Only look at phrases when the status code's reason is one of these ('none' = no reason). */
  phrasesWhenStatusIs?: readonly (Reason | 'none')[];
  /** ...or whatever the status, when the failing command is one of these. */
  phrasesAnyStatusAt?: readonly SmtpCommand[];
  /** Only look at phrases when the failing command is one of these ('none' = not known). */
  phrasesAtCommands?: readonly (SmtpCommand | 'none')[];
  /** Never look at phrases when the failing command is one of these. */
  phrasesNotAtCommands?: readonly SmtpCommand[];
  /** The probe never matches when the status code is one of these. */
  notWithStatus?: readonly string[];
  /** The probe never matches when the status code's reason is one of these. */
  notWithStatusReason?: readonly Reason[];
  /** A status-code match is dropped when the text has a phrase of one of these reasons. */
  statusVetoedBy?: readonly Reason[];
  /** A status-code match also needs one of the probe's phrases. */
  statusNeedsPhrase?: boolean;
  /** The probe needs a status code at all. */
  needsStatus?: boolean;
  example: { text: string; status?: string; replyCode?: number; command?: SmtpCommand };
}

const UNSPECIFIC: readonly (Reason | 'none')[] = [
  'none',
  'undefined',
  'onhold',
  'securityerror',
  'systemerror',
];

export const FIRST_PASS: readonly Probe[] = [
  {
    reason: 'mailboxfull',
    byStatus: true,
    phrasesOf: ['mailboxfull'],
    example: { text: '552 Requested mail action aborted: mailbox full', status: '5.0.0' },
  },
  {
    reason: 'mesgtoobig',
    byStatus: true,
    phrasesOf: ['mesgtoobig'],
    notWithStatus: ['5.2.3'],
    notWithStatusReason: ['exceedlimit'],
    example: { text: '552 message file too big', status: '5.0.0' },
  },
  {
    reason: 'exceedlimit',
    byStatus: true,
    phrasesOf: ['exceedlimit'],
    example: { text: '552 5.2.3 Message length exceeds administrative limit', status: '5.2.3' },
  },
  {
    reason: 'suspend',
    replyCodes: [525],
    phrasesOf: ['suspend'],
    example: { text: '550 5.2.1 This mailbox is disabled', status: '5.2.1' },
  },
  {
    reason: 'hasmoved',
    phrasesOf: ['hasmoved'],
    example: { text: '550 5.1.6 kijitora@example.jp has been replaced by neko@example.jp' },
  },
  {
    reason: 'norelaying',
    phrasesOf: ['norelaying'],
    phrasesNotAtCommands: ['CONN', 'EHLO', 'HELO'],
    example: { text: '554 5.7.1 <kijitora@example.org>: Relay access denied', status: '5.7.1' },
  },
  {
    reason: 'authfailure',
    byStatus: true,
    phrasesOf: ['authfailure'],
    example: { text: '550 5.7.1 Email rejected per DMARC policy for example.org', status: '5.7.1' },
  },
  {
    reason: 'userunknown',
    byStatus: true,
    statusVetoedBy: ['norelaying', 'blocked', 'mailboxfull', 'hasmoved', 'rejected', 'notaccept'],
    phrasesOf: ['userunknown'],
    phrasesAtCommands: ['RCPT'],
    example: { text: '550 5.1.1 <kijitora@example.jp>... User Unknown', status: '5.1.1', command: 'RCPT' },
  },
  {
    reason: 'filtered',
    byStatus: true,
    statusNeedsPhrase: true,
    phrasesOf: ['filtered', 'userunknown'],
    phrasesNotAtCommands: BEFORE_DATA,
    example: { text: '550 5.2.1 user refuses to receive this mail', status: '5.2.1', command: 'DATA' },
  },
  {
    reason: 'requireptr',
    byStatus: true,
    phrasesOf: ['requireptr'],
    example: { text: '550 5.7.1 Client host rejected: cannot find your hostname', status: '5.7.1' },
  },
  {
    reason: 'notcompliantrfc',
    phrasesOf: ['notcompliantrfc'],
    example: { text: '550 5.7.1 This message is not RFC 5322 compliant', status: '5.7.1' },
  },
  {
    reason: 'badreputation',
    phrasesOf: ['badreputation'],
    example: { text: '421 4.7.0 IP/domain reputation problems', status: '4.7.0' },
  },
  {
    reason: 'contenterror',
    byStatus: true,
    phrasesOf: ['contenterror'],
    example: { text: '550 5.6.0 improper use of 8-bit data in message header', status: '5.6.0' },
  },
  {
    reason: 'rejected',
    byStatus: true,
    phrasesOf: ['rejected'],
    phrasesWhenStatusIs: UNSPECIFIC,
    phrasesAnyStatusAt: ['MAIL', 'DATA'],
    example: { text: '550 5.7.1 Sender rejected', status: '5.7.1', command: 'MAIL' },
  },
  {
    reason: 'hostunknown',
    byStatus: true,
    statusVetoedBy: ['networkerror'],
    phrasesOf: ['hostunknown'],
    example: { text: '550 Host unknown', status: '5.1.2' },
  },
  {
    reason: 'spamdetected',
    byStatus: true,
    needsStatus: true,
    phrasesOf: ['spamdetected'],
    phrasesNotAtCommands: BEFORE_DATA,
    example: { text: '550 5.7.1 Message rejected as spam', status: '5.7.1', command: 'DATA' },
  },
  {
    reason: 'speeding',
    phrasesOf: ['speeding'],
    example: { text: '451 4.7.1 Client host rejected: Please try again slower', status: '4.7.1' },
  },
  {
    reason: 'toomanyconn',
    byStatus: true,
    phrasesOf: ['toomanyconn'],
    example: { text: '421 Too many connections from your host.', status: '4.0.0' },
  },
  {
    reason: 'blocked',
    byStatus: true,
    phrasesOf: ['blocked'],
    example: { text: '550 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org', status: '5.7.1' },
  },
];

/** Phrase-only pass, tried while the status code is unspecific (or names a retryable reason). */
export const SECOND_PASS: readonly Reason[] = [
  'mailboxfull',
  'authfailure',
  'badreputation',
  'speeding',
  'spamdetected',
  'virusdetected',
  'policyviolation',
  'norelaying',
  'systemerror',
  'networkerror',
  'suspend',
  'contenterror',
  'systemfull',
  'notaccept',
  'expired',
  'failedstarttls',
  'securityerror',
  'mailererror',
];

/** Status reasons that still let the phrase-only pass look for a better word. */
export const RECONSIDERED: ReadonlySet<Reason> = new Set([
  'undefined',
  'onhold',
  'systemerror',
  'securityerror',
  'expired',
  'networkerror',
  'hostunknown',
  'userunknown',
]);
