/**
 * Runs the decision table of probes.ts over one Fact and returns the reason. Pure and
 * synchronous; the text is normalised once. Also the helpers that pull a status code, a reply
 * code and the failing SMTP command out of free text, shared by the reply and message paths.
 */
import { mtaReason, normaliseText, phraseScan } from './phrases.js';
import { type Fact, FIRST_PASS, type Probe, RECONSIDERED, SECOND_PASS, type SmtpCommand } from './probes.js';
import { reasonOfStatus } from './status-codes.js';
import type { Reason } from './vocabulary.js';

/** Reasons a message format states that the probes may still refine. */
const REFINABLE_PRESETS: ReadonlySet<Reason> = RECONSIDERED;

/** Whether a text holds a phrase of a reason (phraseScan: each list read once per text). */
type PhraseTest = (reason: Reason) => boolean;

function probeMatches(probe: Probe, fact: Fact, has: PhraseTest, statusReason: Reason | undefined): boolean {
  // A reason the message format stated wins when its probe's turn comes.
  if (fact.reason === probe.reason) return true;
  if (probe.needsStatus && !fact.status) return false;
  if (fact.status && probe.notWithStatus?.includes(fact.status)) return false;
  if (statusReason && probe.notWithStatusReason?.includes(statusReason)) return false;
  const phrases = probe.phrasesOf ?? [];
  const phraseFound = (): boolean => phrases.some(has);
  if (probe.byStatus && statusReason === probe.reason) {
    const vetoed = (probe.statusVetoedBy ?? []).some(has);
    if (vetoed) return false;
    if (!probe.statusNeedsPhrase) return true;
    if (phraseFound()) return true;
  }
  if (fact.replyCode !== undefined && probe.replyCodes?.includes(fact.replyCode)) return true;
  if (phrases.length === 0) return false;
  const command = fact.command;
  if (command && probe.phrasesNotAtCommands?.includes(command)) return false;
  if (probe.phrasesAtCommands && !probe.phrasesAtCommands.includes(command ?? 'none')) return false;
  if (probe.phrasesWhenStatusIs) {
    const anyStatus = command !== undefined && (probe.phrasesAnyStatusAt ?? []).includes(command);
    if (!anyStatus && !probe.phrasesWhenStatusIs.includes(statusReason ?? 'none')) return false;
  }
  return phraseFound();
}

function secondPass(fact: Fact, has: PhraseTest, statusReason: Reason | undefined): Reason | undefined {
  const diagnosticType = (fact.diagnosticType ?? 'SMTP').toUpperCase();
  if (statusReason && !RECONSIDERED.has(statusReason) && diagnosticType === 'SMTP') return statusReason;
  for (const reason of SECOND_PASS) if (has(reason)) return reason;
  if (statusReason) return statusReason;
  const subject = fact.status?.slice(1, 3);
  if (subject === '.6') return 'contenterror';
  if (subject === '.7') return 'securityerror';
  if (diagnosticType.startsWith('X-UNIX')) return 'mailererror';
  const reply = fact.replyCode ?? 0;
  if ((reply > 400 && reply < 408) || (reply > 500 && reply < 508)) return 'syntaxerror';
  if (fact.action === 'delayed' || fact.action === 'expired') return 'expired';
  if (fact.command === 'EHLO' || fact.command === 'HELO') return 'blocked';
  return undefined;
}

/** Which step of the decision named the reason (for `--explain`); filled in when given. */
export interface DecisionTrace {
  rule?: string;
}

function decided(trace: DecisionTrace | undefined, rule: string, reason: Reason): Reason {
  if (trace) trace.rule = rule;
  return reason;
}

/** The reason for one failure. Never throws; 'undefined' when nothing is known. */
export function decideReason(input: Fact, trace?: DecisionTrace, generic = false): Reason {
  const text = normaliseText(input.diagnostic);
  const has = phraseScan(text);
  const byMta = input.reason === undefined && !generic ? mtaReason(text) : undefined;
  const preset = input.reason ?? byMta;
  const presetRule = input.reason ? 'format-stated' : 'mta-phrase';
  const fact: Fact = preset ? { ...input, reason: preset } : input;
  if (fact.reason && !REFINABLE_PRESETS.has(fact.reason)) return decided(trace, presetRule, fact.reason);
  if (fact.status?.startsWith('2.')) return decided(trace, 'status:2.x.x', 'delivered');
  const statusReason = reasonOfStatus(fact.status);
  const diagnosticType = (fact.diagnosticType ?? 'SMTP').toUpperCase();
  if (diagnosticType === 'SMTP') {
    for (const probe of FIRST_PASS) {
      if (probeMatches(probe, fact, has, statusReason))
        return decided(trace, `probe:${probe.reason}`, probe.reason);
    }
  }
  if (fact.reason && fact.reason !== 'undefined' && fact.reason !== 'onhold')
    return decided(trace, presetRule, fact.reason);
  const found = secondPass(fact, has, statusReason);
  if (found) return decided(trace, `second-pass:${found}`, found);
  if (fact.action === 'delayed') return decided(trace, 'dsn-action:delayed', 'expired');
  // Last resort: any reason's words, whatever the command or status said.
  for (const probe of FIRST_PASS)
    if (probe.phrasesOf?.some(has)) return decided(trace, `any-phrase:${probe.reason}`, probe.reason);
  if (has('vacation')) return decided(trace, 'any-phrase:vacation', 'vacation');
  return decided(trace, 'nothing-found', text ? 'onhold' : 'undefined');
}

const STATUS_IN_TEXT_RE = /(?<![\d.a-z])([245])\.([0-7])\.(\d{1,3})(?![\d])/gi;

/**
 * The most telling enhanced status code in free text: the first one that is not x.0.0 or 4.4.7,
 * else the first at all; restricted to the class of `replyClass` when given.
 */
export function findStatusInText(text: string, replyClass?: string): string | undefined {
  let fallback: string | undefined;
  for (const match of text.matchAll(STATUS_IN_TEXT_RE)) {
    const code = `${match[1]}.${match[2]}.${match[3]}`;
    if (replyClass && match[1] !== replyClass) continue;
    if (code.endsWith('.0.0') || code === '4.4.7') {
      fallback ??= code;
      continue;
    }
    return code;
  }
  return fallback;
}

function isZeroDetail(code: string): boolean {
  return /^\d\.\d+\.0$/.test(code) || /^\d\.0\.\d+$/.test(code);
}

/** Chooses between a DSN Status field and a code found in the diagnostic text. */
export function preferStatus(field?: string, inText?: string, replyCode?: number): string | undefined {
  if (!field) return inText;
  if (!inText || field === inText) return field;
  const replyClass = replyCode ? String(replyCode)[0] : undefined;
  if (replyClass && field[0] !== inText[0]) {
    if (replyClass === field[0]) return field;
    if (replyClass === inText[0]) return inText;
  }
  if (field.endsWith('.0.0')) return inText.endsWith('.0.0') ? field : inText;
  if (isZeroDetail(field) && !isZeroDetail(inText)) return inText;
  if (inText.endsWith('.0.0')) return field;
  if (field === '4.4.7' || field === '4.7.0' || field.startsWith('5.3.')) return inText;
  if (/^\d\.5\.[1245]$/.test(field)) return inText;
  if (field === '5.1.1') return isZeroDetail(inText) || inText.startsWith('5.5.') ? field : inText;
  if (field === '5.1.3' && inText.startsWith('5.7.')) return inText;
  return field;
}

const REPLY_CODE_RE = /(?:^|[\s(:;'"[<-])([245][0-5]\d)(?=[\s\-:.,;)'"\]]|$)/;

/** The first basic SMTP reply code in free text (e.g. "550" of "said: 550 5.1.1 ..."). */
export function findReplyCode(text: string): number | undefined {
  const match = REPLY_CODE_RE.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** SMTP command words as MTAs print them (upper case, not part of a name), in protocol order. */
const COMMAND_WORDS: readonly [RegExp, SmtpCommand][] = [
  [/(?<![A-Za-z0-9@.])HELO(?![A-Za-z0-9@.])/, 'HELO'],
  [/(?<![A-Za-z0-9@.])EHLO(?![A-Za-z0-9@.])/, 'EHLO'],
  [/(?<![A-Za-z0-9@.])STARTTLS(?![A-Za-z0-9@.])/, 'STARTTLS'],
  [/(?<![A-Za-z0-9@.])AUTH (?:PLAIN|LOGIN|CRAM-|DIGEST-)/, 'AUTH'],
  [/(?<![A-Za-z0-9@.])MAIL F/, 'MAIL'],
  [/(?<![A-Za-z0-9@.])RCPT(?![A-Za-z0-9@.])/, 'RCPT'],
  [/(?<![A-Za-z0-9@.])DATA(?![A-Za-z0-9@.])/, 'DATA'],
];

/** Lower-case wordings of a stage ("after end of data", "after initial connection"). */
const COMMAND_PHRASES: readonly [RegExp, SmtpCommand][] = [
  [/\b(?:end of data|after data|during data|data command)\b/i, 'DATA'],
  [/\b(?:rcpt to|rcpt_to)\b/i, 'RCPT'],
  [/\bmail from\b/i, 'MAIL'],
  [/\bafter (?:initial connection|connect)\b|\bgreeting\b/i, 'CONN'],
  // Postfix: the server refused the session before any mail command ("refused to talk to me").
  [/\brefused to talk to\s+me\b/i, 'HELO'],
];

/**
 * "  RCPT TO: user@host" lines listing the envelope (message details), not a failing command. The
 * local part stops at the first `@`, so a line of many `@` is not split every possible way.
 */
const ENVELOPE_LISTING_RE = /^[ \t]*(?:MAIL FROM|RCPT TO):[ \t]*[^<\s@]+@\S+[ \t]*$/gim;

/** The SMTP command a failure happened at: the last one in protocol order the text names. */
export function findCommand(input: string): SmtpCommand | undefined {
  const text = input.replace(ENVELOPE_LISTING_RE, '');
  let found: SmtpCommand | undefined;
  for (const [re, command] of COMMAND_WORDS) if (re.test(text)) found = command;
  if (found) return found;
  for (const [re, command] of COMMAND_PHRASES) if (re.test(text)) return command;
  return undefined;
}
