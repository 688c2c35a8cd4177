/**
 * MTA-STS (RFC 8461) as text: the `_mta-sts` TXT record (§3.1), the policy file (§3.2) and MX
 * host matching (§4.1). Pure: no I/O, no clock.
 *
 * Guarantees: a TXT answer yields a policy id only when exactly one record starts with
 * `v=STSv1` and that record is well formed; a policy parses only with `version: STSv1`, a known
 * mode, a numeric max_age (capped at MAX_POLICY_AGE_S) and, unless the mode is `none`, at least
 * one valid mx pattern. Unknown fields are ignored; of a repeated field other than mx the first
 * counts. `*.example.com` matches exactly one more label, case-insensitively.
 */
import { splitLines } from '../util/index.js';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  mode: MtaStsMode;
  /** Lower-case patterns: host names, or `*.` + a domain. */
  mx: string[];
  /** Seconds, at most MAX_POLICY_AGE_S. */
  maxAgeS: number;
}

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_POLICY_AGE_S = 31_557_600;
/** RFC 8461 §3.2: max_age has at most 10 digits. */
const MAX_AGE_DIGITS = 10;
const POLICY_VERSION = 'STSv1';
const MODES: readonly MtaStsMode[] = ['enforce', 'testing', 'none'];

/** §3.1: the record's version field, exactly, followed by the field delimiter or the end. */
const RECORD_START = /^v=STSv1(\s*;|\s*$)/;
/** §3.1: id = 1*32(ALPHA / DIGIT). */
const RECORD_ID = /^[A-Za-z0-9]{1,32}$/;
/** §3.1: sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."). */
const EXTENSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
/** §3.1: sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable, no ";" or "=". */
const EXTENSION_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;
/** A DNS label of letters, digits and hyphens (no leading or trailing hyphen). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Whether a TXT string at `_mta-sts.<domain>` is an MTA-STS record (starts with `v=STSv1`). */
export function isStsRecord(text: string): boolean {
  return RECORD_START.test(text.trim());
}

/**
 * The policy id from the TXT strings at `_mta-sts.<domain>` (one string per record). Records
 * that do not start with `v=STSv1` are discarded; not exactly one left, or an invalid one: no id.
 */
export function parseStsRecord(records: readonly string[]): Parsed<string> {
  const candidates = records.filter(isStsRecord).map((r) => r.trim());
  if (candidates.length === 0) return { ok: false, problem: 'no v=STSv1 record' };
  if (candidates.length > 1) return { ok: false, problem: `${candidates.length} v=STSv1 records` };
  let id: string | undefined;
  const fields = candidates[0]!.split(';').map((f) => f.trim());
  if (fields.at(-1) === '') fields.pop();
  for (const field of fields.slice(1)) {
    const eq = field.indexOf('=');
    const name = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (name === 'id') {
      if (!RECORD_ID.test(value)) return { ok: false, problem: `invalid id ${JSON.stringify(value)}` };
      id ??= value;
    } else if (!EXTENSION_NAME.test(name) || !EXTENSION_VALUE.test(value)) {
      return { ok: false, problem: `invalid field ${JSON.stringify(field)}` };
    }
  }
  return id === undefined ? { ok: false, problem: 'no id field' } : { ok: true, value: id };
}

/** The policy file's text (`key: value` lines, LF or CRLF). */
export function parsePolicy(text: string): Parsed<MtaStsPolicy> {
  const first = new Map<string, string>();
  const mx: string[] = [];
  for (const line of splitLines(text)) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, problem: `not a "key: value" line: ${JSON.stringify(line)}` };
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'mx') mx.push(value.toLowerCase());
    else if (!first.has(key)) first.set(key, value);
  }
  const version = first.get('version');
  if (version !== POLICY_VERSION) return { ok: false, problem: `version is ${describe(version)}, not STSv1` };
  const mode = first.get('mode') as MtaStsMode | undefined;
  if (!mode || !MODES.includes(mode)) return { ok: false, problem: `mode is ${describe(mode)}` };
  const maxAge = first.get('max_age');
  if (!maxAge || !/^\d+$/.test(maxAge) || maxAge.length > MAX_AGE_DIGITS)
    return { ok: false, problem: `max_age is ${describe(maxAge)}` };
  const bad = mx.find((pattern) => !validPattern(pattern));
  if (bad !== undefined) return { ok: false, problem: `invalid mx pattern ${JSON.stringify(bad)}` };
  if (mode !== 'none' && mx.length === 0) return { ok: false, problem: `mode ${mode} without mx` };
  return {
    ok: true,
    value: { mode, mx: [...new Set(mx)], maxAgeS: Math.min(Number(maxAge), MAX_POLICY_AGE_S) },
  };
}

/** The policy as its `key: value` lines (RFC 8460 §4.4's `policy-string` of an `sts` policy). */
export function policyLines(policy: MtaStsPolicy): string[] {
  return [
    `version: ${POLICY_VERSION}`,
    `mode: ${policy.mode}`,
    ...policy.mx.map((m) => `mx: ${m}`),
    `max_age: ${policy.maxAgeS}`,
  ];
}

/** §4.1: `host` (an MX host name) matches `pattern` (a policy mx value). */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return name === p;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === p.slice(2);
}

/** Whether `host` (an MX host name) matches one of the policy's mx patterns. */
export function hostAllowed(policy: MtaStsPolicy, host: string): boolean {
  return policy.mx.some((pattern) => mxMatches(pattern, host));
}

function validPattern(pattern: string): boolean {
  const name = pattern.replace(/\.$/, '');
  const labels = (name.startsWith('*.') ? name.slice(2) : name).split('.');
  // A wildcard needs at least two labels after it (`*.com` would match any host under a TLD).
  if (name.startsWith('*.') && labels.length < 2) return false;
  return labels.every((label) => LABEL.test(label));
}

function describe(value: string | undefined): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}
