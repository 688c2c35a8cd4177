/**
 * SPF record text (RFC 7208 §4.5, §5, §6, §7): choosing the one `v=spf1` record, parsing its
 * terms and expanding macros (an IP against a CIDR: config's `inCidr`). Pure.
 */
import { isIP } from 'node:net';
import { splitAddress } from '../address/index.js';
import { ipv6Hex } from './names.js';

export type SpfQualifier = '+' | '-' | '~' | '?';
export type SpfMechanismKind = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

export interface SpfMechanism {
  kind: SpfMechanismKind;
  qualifier: SpfQualifier;
  /** The term as written, for reasons. */
  text: string;
  /** domain-spec (include, exists, and optionally a, mx, ptr); may contain macros. */
  domain?: string;
  /** ip4 / ip6 network address. */
  ip?: string;
  /** Prefix lengths (ip4/ip6 use the one of their family; a/mx may carry both). */
  cidr4?: number;
  cidr6?: number;
}

export interface SpfRecord {
  mechanisms: SpfMechanism[];
  redirect?: string;
  exp?: string;
}

/** Mechanisms and modifiers that cost one DNS lookup each (RFC 7208 §4.6.4). */
export const LOOKUP_MECHANISMS: ReadonlySet<SpfMechanismKind> = new Set([
  'include',
  'a',
  'mx',
  'ptr',
  'exists',
]);
export const MAX_SPF_LOOKUPS = 10;
export const MAX_SPF_VOID_LOOKUPS = 2;
/** Names looked up per mx (and ptr) mechanism at most. */
export const MAX_SPF_NAME_LOOKUPS = 10;

const SPF_VERSION = /^v=spf1(\s|$)/i;
const MECHANISM = /^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?::([^/]+))?((?:\/\d+)?(?:\/\/\d+)?)$/i;
const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/i;
const NEEDS_DOMAIN: ReadonlySet<SpfMechanismKind> = new Set(['include', 'exists', 'ip4', 'ip6']);

/** The `v=spf1` records among a name's TXT strings. */
export function spfRecordsOf(txt: string[]): string[] {
  return txt.filter((t) => SPF_VERSION.test(t.trim()));
}

function parseCidr(text: string, kind: SpfMechanismKind): { cidr4?: number; cidr6?: number } | string {
  const m = /^(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(text);
  if (!m) return `bad prefix length "${text}"`;
  const v4 = m[1] === undefined ? undefined : Number(m[1]);
  const v6 = m[2] === undefined ? undefined : Number(m[2]);
  if (v4 !== undefined && v4 > (kind === 'ip6' ? 128 : 32)) return `prefix length /${v4} out of range`;
  if (v6 !== undefined && (v6 > 128 || kind === 'ip4' || kind === 'ip6'))
    return `bad prefix length "${text}"`;
  const out: { cidr4?: number; cidr6?: number } = {};
  if (kind === 'ip6') {
    if (v4 !== undefined) out.cidr6 = v4;
  } else {
    if (v4 !== undefined) out.cidr4 = v4;
    if (v6 !== undefined) out.cidr6 = v6;
  }
  return out;
}

function parseMechanism(term: string): SpfMechanism | string {
  const m = MECHANISM.exec(term);
  if (!m) return `unknown term "${term}"`;
  const kind = m[2]!.toLowerCase() as SpfMechanismKind;
  const qualifier = (m[1] || '+') as SpfQualifier;
  const value = m[3];
  if (kind === 'all' && (value !== undefined || m[4])) return `"${term}" takes no argument`;
  if (NEEDS_DOMAIN.has(kind) && value === undefined) return `"${term}" needs a value`;
  const cidr = parseCidr(m[4] ?? '', kind);
  if (typeof cidr === 'string') return `${term}: ${cidr}`;
  const mechanism: SpfMechanism = { kind, qualifier, text: term, ...cidr };
  if (kind === 'ip4' || kind === 'ip6') {
    if (isIP(value!) !== (kind === 'ip4' ? 4 : 6)) return `${term}: not an ${kind} address`;
    mechanism.ip = value!;
  } else if (value !== undefined) {
    mechanism.domain = value;
  }
  return mechanism;
}

/** Parses one `v=spf1` record; a string is the reason it is a permerror. */
export function parseSpfRecord(text: string): SpfRecord | string {
  const terms = text.trim().split(/\s+/).slice(1);
  const record: SpfRecord = { mechanisms: [] };
  for (const term of terms) {
    const modifier = MECHANISM.test(term) ? undefined : MODIFIER.exec(term);
    if (modifier) {
      const name = modifier[1]!.toLowerCase();
      if (name !== 'redirect' && name !== 'exp') continue; // unknown modifiers are ignored (§6)
      if (record[name] !== undefined) return `${name}= appears twice`;
      if (modifier[2] === '') return `${name}= needs a domain`;
      record[name] = modifier[2]!;
      continue;
    }
    const mechanism = parseMechanism(term);
    if (typeof mechanism === 'string') return mechanism;
    record.mechanisms.push(mechanism);
  }
  return record;
}

/** What macros expand from (RFC 7208 §7.2). */
export interface MacroContext {
  sender: string;
  domain: string;
  ip: string;
  helo: string;
}

function macroLetter(letter: string, ctx: MacroContext): string {
  const parts = splitAddress(ctx.sender);
  const [local, senderDomain] = parts ? [parts.local, parts.domain] : ['postmaster', ctx.sender];
  switch (letter) {
    case 's':
      return ctx.sender;
    case 'l':
      return local;
    case 'o':
      return senderDomain;
    case 'd':
      return ctx.domain;
    case 'i':
      return isIP(ctx.ip) === 6 ? ipv6Hex(ctx.ip).split('').join('.') : ctx.ip;
    case 'p':
      return 'unknown';
    case 'v':
      return isIP(ctx.ip) === 6 ? 'ip6' : 'in-addr';
    case 'h':
      return ctx.helo;
    default:
      return '';
  }
}

/** Expands a domain-spec's macros; a string starting with "!" is why it cannot be expanded. */
export function expandMacros(spec: string, ctx: MacroContext): string {
  let invalid = '';
  const out = spec.replace(
    /%(?:\{([a-z])(\d*)(r?)([.\-+,/_=]*)\}|(.))/gi,
    (whole, letter, digits, rev, delims, esc) => {
      if (esc !== undefined) {
        if (esc === '%') return '%';
        if (esc === '_') return ' ';
        if (esc === '-') return '%20';
        invalid ||= `bad macro "${whole}"`;
        return '';
      }
      const lower = String(letter).toLowerCase();
      if (!'slodipvh'.includes(lower)) {
        invalid ||= `unknown macro letter in "${whole}"`;
        return '';
      }
      const splitter = new RegExp(`[${(delims || '.').replace(/[-\\\]^]/g, '\\$&')}]`);
      let parts = macroLetter(lower, ctx).split(splitter);
      if (rev) parts = parts.reverse();
      if (digits) parts = parts.slice(-Number(digits));
      const value = parts.join('.');
      return letter === lower ? value : encodeURIComponent(value);
    },
  );
  return invalid ? `!${invalid}` : out.replace(/\.+$/, '');
}
