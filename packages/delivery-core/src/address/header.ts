/**
 * Addresses in header fields (RFC 5322 §3.4): an address list such as From read in one pass —
 * quoted strings with escapes, nested comments, angle addresses, groups (`name: a, b;`) and
 * commas — into its mailboxes, or a problem when the field is not an address list. Linear in the
 * field's length (every character is looked at a bounded number of times; `steps` counts them)
 * and capped at MAX_ADDRESS_FIELD_CHARS. The one reader of the From field: the sender-domain
 * check, the DMARC pre-check and the DKIM signer's key choice all read it through `readAuthors`.
 * Pure.
 */
import { isCanonicalDomain } from './domain.js';
import { domainOfAddress, splitAddress } from './parts.js';

/** A From/To field longer than this (characters, unfolded) is not read: no real one comes near. */
export const MAX_ADDRESS_FIELD_CHARS = 4 * 1024;

export type AddressListReading =
  | { ok: true; addresses: string[]; steps: number }
  | { ok: false; problem: string; steps: number };

type Token = { kind: 'word' | 'quoted' | 'literal' | 'special'; text: string };

/** RFC 5322 specials; whitespace and "(" / '"' / "[" start other tokens. */
const SPECIALS = new Set(['<', '>', '@', ',', ';', ':', '.']);
/** atext (RFC 5322 §3.2.3) plus any non-ASCII character (RFC 6532). */
const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]/;

class Scan {
  steps = 0;
  constructor(readonly text: string) {}
}

/** Tokens of `text` with comments and whitespace dropped, or a problem. One pass. */
function tokenize(scan: Scan): Token[] | string {
  const { text } = scan;
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    scan.steps++;
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '(') {
      let depth = 0;
      for (; i < text.length; i++) {
        scan.steps++;
        const d = text[i];
        if (d === '\\') i++;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      if (i >= text.length) return 'unclosed comment';
      i++;
    } else if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      const start = i++;
      for (; i < text.length && text[i] !== close; i++) {
        scan.steps++;
        if (text[i] === '\\') i++;
        else if (c === '[' && (text[i] === '[' || text[i] === '\\')) return 'invalid domain literal';
      }
      if (i >= text.length) return c === '"' ? 'unclosed quoted string' : 'unclosed domain literal';
      i++;
      tokens.push({ kind: c === '"' ? 'quoted' : 'literal', text: text.slice(start, i) });
    } else if (SPECIALS.has(c)) {
      tokens.push({ kind: 'special', text: c });
      i++;
    } else if (ATEXT.test(c)) {
      const start = i;
      while (i < text.length && ATEXT.test(text[i]!)) {
        scan.steps++;
        i++;
      }
      tokens.push({ kind: 'word', text: text.slice(start, i) });
    } else return `unexpected ${JSON.stringify(c)}`;
  }
  return tokens;
}

const isWord = (t: Token | undefined) => t !== undefined && (t.kind === 'word' || t.kind === 'quoted');
const isSpecial = (t: Token | undefined, c: string) =>
  t !== undefined && t.kind === 'special' && t.text === c;

/** `word *("." word)` over tokens[from, to) of the given kinds; its text or undefined. */
function dotted(tokens: Token[], from: number, to: number, word: (t: Token | undefined) => boolean) {
  if (from >= to) return undefined;
  let text = '';
  for (let i = from; i < to; i++) {
    const expectWord = (i - from) % 2 === 0;
    if (expectWord ? !word(tokens[i]) : !isSpecial(tokens[i], '.')) return undefined;
    text += tokens[i]!.text;
  }
  return (to - from) % 2 === 1 ? text : undefined;
}

/** addr-spec over tokens[from, to): exactly one "@", dot-atom / quoted local part, dot-atom or literal domain. */
function addrSpec(tokens: Token[], from: number, to: number): string | undefined {
  let at = -1;
  for (let i = from; i < to; i++) {
    if (!isSpecial(tokens[i], '@')) continue;
    if (at >= 0) return undefined;
    at = i;
  }
  if (at < 0) return undefined;
  const local = dotted(tokens, from, at, isWord);
  const domain =
    at + 2 === to && tokens[at + 1]!.kind === 'literal'
      ? tokens[at + 1]!.text
      : dotted(tokens, at + 1, to, (t) => t !== undefined && t.kind === 'word');
  return local === undefined || domain === undefined ? undefined : `${local}@${domain}`;
}

/** A display name: one or more words (dots allowed, obs-phrase). */
function phrase(tokens: Token[], from: number, to: number): boolean {
  if (from >= to || !isWord(tokens[from])) return false;
  for (let i = from; i < to; i++) if (!isWord(tokens[i]) && !isSpecial(tokens[i], '.')) return false;
  return true;
}

/** Reads an address list (the value of From, To, Cc…) into its mailboxes. */
export function readAddressList(value: string, maxChars = MAX_ADDRESS_FIELD_CHARS): AddressListReading {
  if (value.length > maxChars)
    return { ok: false, problem: `field longer than ${maxChars} characters`, steps: 0 };
  const scan = new Scan(value);
  const tokens = tokenize(scan);
  if (typeof tokens === 'string') return { ok: false, problem: tokens, steps: scan.steps };
  const addresses: string[] = [];
  const fail = (problem: string): AddressListReading => ({ ok: false, problem, steps: scan.steps });
  let inGroup = false;
  let i = 0;
  while (i < tokens.length) {
    scan.steps++;
    if (isSpecial(tokens[i], ',')) {
      i++;
      continue;
    }
    if (inGroup && isSpecial(tokens[i], ';')) {
      inGroup = false;
      i++;
      if (i < tokens.length && !isSpecial(tokens[i], ',')) return fail('text after a group');
      continue;
    }
    let end = i;
    while (end < tokens.length && !['<', ':', ',', ';'].some((c) => isSpecial(tokens[end], c))) {
      scan.steps++;
      end++;
    }
    const stop = tokens[end];
    if (isSpecial(stop, ':')) {
      if (inGroup || !phrase(tokens, i, end)) return fail('invalid group');
      inGroup = true;
      i = end + 1;
      continue;
    }
    let address: string | undefined;
    if (isSpecial(stop, '<')) {
      if (end > i && !phrase(tokens, i, end)) return fail('invalid display name');
      let close = end + 1;
      while (close < tokens.length && !isSpecial(tokens[close], '>')) {
        scan.steps++;
        close++;
      }
      if (close >= tokens.length) return fail('unclosed angle address');
      address = addrSpec(tokens, end + 1, close);
      end = close + 1;
      const next = tokens[end];
      if (next !== undefined && !isSpecial(next, ',') && !(inGroup && isSpecial(next, ';')))
        return fail('text after an angle address');
    } else {
      if (isSpecial(stop, ';') && !inGroup) return fail('unexpected ";"');
      address = addrSpec(tokens, i, end);
    }
    if (address === undefined) return fail('invalid address');
    addresses.push(address);
    i = end;
  }
  if (inGroup) return fail('unclosed group');
  return { ok: true, addresses, steps: scan.steps };
}

/** What the From field(s) of a message say about its authors. */
export type AuthorReading =
  | { ok: true; addresses: string[]; domains: string[] }
  | { ok: false; problem: string; fields: number };

/**
 * The authors of a message from the values of its From fields: exactly one field (RFC 5322
 * §3.6; DMARC, RFC 7489 §6.6.1, cannot evaluate more), an address list with at least one
 * mailbox, each with a domain; `domains` are their distinct A-label domains.
 */
export function readAuthors(fromValues: readonly string[]): AuthorReading {
  const fields = fromValues.length;
  if (fields !== 1)
    return { ok: false, problem: fields === 0 ? 'no From field' : `${fields} From fields`, fields };
  const reading = readAddressList(fromValues[0]!);
  if (!reading.ok) return { ok: false, problem: `unreadable From field: ${reading.problem}`, fields };
  if (reading.addresses.length === 0) return { ok: false, problem: 'From field without an address', fields };
  const domains = new Set<string>();
  for (const address of reading.addresses) {
    const domain = domainOfAddress(address);
    if (domain === undefined)
      return { ok: false, problem: `From address ${address} without a domain`, fields };
    if (!isCanonicalDomain(splitAddress(address)?.domain ?? ''))
      return { ok: false, problem: `From domain of ${address} is not in canonical form`, fields };
    domains.add(domain);
  }
  return { ok: true, addresses: reading.addresses, domains: [...domains] };
}

/** The first address of a header field value, or undefined when it is not a readable address list. */
export function firstHeaderAddress(value: string): string | undefined {
  const reading = readAddressList(value);
  return reading.ok ? reading.addresses[0] : undefined;
}

/**
 * The address of one mailbox as an application writes it (`ann@example.com` or
 * `"Ann Lee" <ann@example.com>`): the bare address for the envelope, or undefined when the value
 * is not exactly one mailbox. A bare value without `<`, `"` or `(` is returned as it is (its
 * syntax is the envelope checks' business).
 */
export function mailboxAddress(value: string): string | undefined {
  if (!/[<"(]/.test(value)) return value;
  const reading = readAddressList(value);
  return reading.ok && reading.addresses.length === 1 ? reading.addresses[0] : undefined;
}

/**
 * The author domain of a message with these From field values: the A-label domain when there
 * is exactly one field and every author has that one domain; undefined otherwise.
 */
export function headerAddressDomain(value: string): string | undefined {
  return singleAuthorDomain([value]);
}

/** The one author domain of these From field values (see readAuthors), or undefined. */
export function singleAuthorDomain(fromValues: readonly string[]): string | undefined {
  const reading = readAuthors(fromValues);
  return reading.ok && reading.domains.length === 1 ? reading.domains[0] : undefined;
}
