/**
 * What real MTAs and mailbox providers write when they refuse mail, grouped by the reason the
 * words mean. A phrase is a lower-case substring, or a list of substrings that must appear in
 * that order ("aligned"). Matching runs on the lower-cased diagnostic text with runs of white
 * space collapsed to one space. Which list is consulted when is decided by the ordered probes in
 * probes.ts. The lists live in one file per family of reasons (phrases-mailbox.ts,
 * phrases-sender.ts, phrases-content.ts, phrases-network.ts); adding a phrase there is a data
 * change (test/bounce-rules.test.ts runs every list).
 */
import { rememberLast } from './linear.js';
import { CONTENT_PHRASES } from './phrases-content.js';
import { MAILBOX_PHRASES } from './phrases-mailbox.js';
import { NETWORK_PHRASES } from './phrases-network.js';
import { SENDER_PHRASES } from './phrases-sender.js';
import { REASONS, type Reason } from './vocabulary.js';

export type Phrase = string | readonly string[];

/** Phrase lists keyed by the reason they mean. */
export type PhraseTable = Readonly<Partial<Record<Reason, readonly Phrase[]>>>;

const BY_FAMILY: PhraseTable = {
  ...MAILBOX_PHRASES,
  ...SENDER_PHRASES,
  ...CONTENT_PHRASES,
  ...NETWORK_PHRASES,
};

/** Every family's lists, keyed in vocabulary order (REASONS). */
export const PHRASES: PhraseTable = Object.fromEntries(
  REASONS.flatMap((reason) => {
    const list = BY_FAMILY[reason];
    return list ? [[reason, list] as const] : [];
  }),
);

/** Texts in which a reason's phrases do not count (e.g. "recipient address rejected" is no sender rejection). */
export const EXCEPT_PHRASES: Readonly<Partial<Record<Reason, readonly string[]>>> = {
  rejected: ['5.1.0 address rejected', 'recipient address rejected', 'sender ip address rejected'],
};

/**
 * What MTAs write about failures of their own (not an SMTP reply): Exim's router and transport
 * messages, qmail's, Domino's, DragonFly's, IMail's. A match states the reason the way the
 * message format does; the probes may still refine a retryable one (expired, hostunknown, ...).
 */
export const MTA_PHRASES: readonly (readonly [Reason, readonly Phrase[]])[] = [
  // Google Groups answers in the sender's language, always with its help link: no such group or no permission to post.
  ['rejected', ['groups.google.com/support']],
  [
    'syntaxerror',
    [
      'angle-brackets nested too deep',
      'expected word or "<"',
      'domain missing in source-routed address',
      'malformed address:',
    ],
  ],
  [
    'notaccept',
    ['an mx or srv record indicated no smtp service', 'no host found for existing smtp connection'],
  ],
  [
    'hostunknown',
    ['all host address lookups failed permanently', 'all relevant mx records point to non-existent hosts'],
  ],
  ['mailboxfull', ['mailbox is full', 'error: quota exceed']],
  ['contenterror', ['too many "received" headers']],
  [
    'systemerror',
    [
      'delivery to file forbidden',
      'delivery to pipe forbidden',
      'local delivery failed',
      'lmtp error after ',
    ],
  ],
  [
    'expired',
    [
      'retry timeout exceeded',
      'envelope expired',
      'message expired, connection refused',
      'all hosts have been failing for a long time',
      'has been frozen',
      'was frozen on arrival',
      ['could not deliver for the last', 'seconds'],
      ['delivery failed ', ' attempts'],
    ],
  ],
  [
    'userunknown',
    [
      'invalid final delivery userid',
      'user not listed in public name & address book',
      '** address not found **',
      'the recipient name is not recognized',
      "wasn't found at the destination domain",
      'wasnt found at the destination domain',
    ],
  ],
  [
    'networkerror',
    [
      'network error on destination mxs',
      ['dns error: ', 'domain name not found'],
      ['dns error: ', 'had no relevant answers'],
      'dns query failed',
    ],
  ],
  ['notaccept', ['returned null mx', "doesn't receive email according to the administrator"]],
  // HCL Domino ("was not delivered to: ... because: ..."), in its translations too.
  [
    'userunknown',
    [
      'not listed in domino directory',
      'no se encuentra en el directorio de domino',
      ['non r', 'pertori', " dans l'annuaire domino"],
    ],
  ],
  ['filtered', ['cannot route mail to user']],
  ['systemerror', ['several matches found in domino directory']],
  // DragonFly Mail Agent (dma net.c) and OpenSMTPD (mta.c, queue.c) failures of their own.
  ['hostunknown', ['dns lookup failure: host ', 'invalid domain name']],
  ['securityerror', ['could not retrieve credentials']],
  [
    'networkerror',
    [
      'address family mismatch on destination mxs',
      'all routes to destination blocked',
      'bad dns lookup error code',
      'could not retrieve source address',
      'no valid route to remote mx',
      'no valid route to destination',
      'temporary failure in mx lookup',
    ],
  ],
  [
    'notaccept',
    ['destination seem to reject all mails', 'no mx found for domain', 'no mx found for destination'],
  ],
  // Zoho Mail's "[Status: Error, Address: <...>, ResponseCode 421, , Host not reachable.]".
  [
    'expired',
    [
      ['error_code :', 'host not reachable'],
      ['responsecode ', 'host not reachable'],
    ],
  ],
];

function aligned(text: string, parts: readonly string[]): boolean {
  let from = 0;
  for (const part of parts) {
    const at = text.indexOf(part, from);
    if (at < 0) return false;
    from = at + part.length;
  }
  return true;
}

function phraseIn(text: string, phrase: Phrase): boolean {
  return typeof phrase === 'string' ? text.includes(phrase) : aligned(text, phrase);
}

/** The reason an MTA's own wording states, if any. */
export function mtaReason(text: string): Reason | undefined {
  return MTA_PHRASES.find(([, phrases]) => phrases.some((phrase) => phraseIn(text, phrase)))?.[0];
}

/** The first phrase of `reason` found in `text` (already normalised), or undefined. */
export function findPhrase(reason: Reason, text: string): Phrase | undefined {
  if (!text) return undefined;
  if (EXCEPT_PHRASES[reason]?.some((except) => text.includes(except))) return undefined;
  return PHRASES[reason]?.find((phrase) => phraseIn(text, phrase));
}

export function hasPhrase(reason: Reason, text: string): boolean {
  return findPhrase(reason, text) !== undefined;
}

/**
 * hasPhrase for one text, reading each reason's list at most once; the last text's answers are
 * kept, so the recipients of one report that share a diagnostic scan it once.
 */
export const phraseScan = rememberLast((text: string): ((reason: Reason) => boolean) => {
  const known = new Map<Reason, boolean>();
  return (reason) => {
    let found = known.get(reason);
    if (found === undefined) {
      found = hasPhrase(reason, text);
      known.set(reason, found);
    }
    return found;
  };
});

/** Lower-cased, white space collapsed: the form phrases are matched against. */
export function normaliseText(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}
