/**
 * What a suppression entry is: an address, why (the bounce classifier's reason vocabulary, or an
 * operator's word), where it came from, when, and for soft reasons until when. Which reasons are
 * soft, and for how long, is the table below; every other reason suppresses until removed.
 */
import { checkAddress, normaliseAddress } from '../address/index.js';
import { isDateTime, MS_PER_DAY } from '../config/index.js';

export const SUPPRESSION_SOURCES = ['bounce', 'complaint', 'manual', 'import'] as const;
export type SuppressionSource = (typeof SUPPRESSION_SOURCES)[number];

/**
 * Soft reasons: the address may work again, so the entry expires. Keys are the bounce
 * classifier's reasons (sisimai vocabulary). Anything not listed (userunknown, hostunknown,
 * hasmoved, notaccept, feedback, an operator's reason) never expires.
 */
export const SOFT_REASON_TTL_MS: Readonly<Record<string, number>> = Object.freeze({
  /** Over quota: mailboxes are emptied within days, or abandoned (then they bounce hard later). */
  mailboxfull: 7 * MS_PER_DAY,
  /** The receiving system is out of space: a host problem, short. */
  systemfull: 1 * MS_PER_DAY,
  /** Mailbox disabled or inactive: may be reactivated. */
  suspend: 30 * MS_PER_DAY,
  /** Undeliverable for the whole queue lifetime: give the address a rest, then try again. */
  expired: 3 * MS_PER_DAY,
});

/** Reason words: lower-case letters, digits and `_.-`, as the classifier and operators write them. */
const REASON = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const DEFAULT_MANUAL_REASON = 'manual';

export interface SuppressionEntry {
  /** Lower-cased. */
  address: string;
  reason: string;
  source: SuppressionSource;
  /** When it was suppressed, epoch ms. */
  at: number;
  /** When a soft entry stops counting, epoch ms; absent: never. */
  expiresAt?: number;
}

export interface SuppressionInput {
  address: string;
  reason: string;
  source: SuppressionSource;
  /** Default: now. */
  at?: number;
  /** Default: `at` + the reason's TTL (SOFT_REASON_TTL_MS), or never; null: never. */
  expiresAt?: number | null;
}

/** The value stored per address (the address is the hash field). */
export interface StoredEntry {
  reason: string;
  source: SuppressionSource;
  at: number;
  expiresAt?: number;
}

/** The hash field of an address: lower-cased, its domain in A-label form (address/). */
export function normalizeAddress(address: string): string {
  return normaliseAddress(address);
}

export function isSource(value: string): value is SuppressionSource {
  return (SUPPRESSION_SOURCES as readonly string[]).includes(value);
}

/** When an entry for `reason` suppressed at `at` expires; undefined: never. */
export function defaultExpiry(reason: string, at: number): number | undefined {
  const ttl = Object.hasOwn(SOFT_REASON_TTL_MS, reason) ? SOFT_REASON_TTL_MS[reason] : undefined;
  return ttl === undefined ? undefined : at + ttl;
}

/** A complete entry from an input, or the problem with it. */
export function toEntry(input: SuppressionInput, now: number): SuppressionEntry | string {
  const address = normalizeAddress(input.address);
  const problem = checkAddress(address);
  if (problem) return `invalid address ${JSON.stringify(input.address)}: ${problem}`;
  const reason = input.reason.trim().toLowerCase();
  if (!REASON.test(reason))
    return `invalid reason ${JSON.stringify(input.reason)}: expected a word like userunknown`;
  if (!isSource(input.source))
    return `invalid source ${JSON.stringify(input.source)}: expected ${SUPPRESSION_SOURCES.join(', ')}`;
  const at = input.at ?? now;
  if (!isDateTime(at)) return 'invalid time';
  const expiresAt = input.expiresAt === null ? undefined : (input.expiresAt ?? defaultExpiry(reason, at));
  // A time past what a Date holds would be stored, then break every list and export of the tenant.
  if (expiresAt !== undefined && !isDateTime(expiresAt)) return 'invalid expiry time';
  return { address, reason, source: input.source, at, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

export function encodeStored(entry: SuppressionEntry): string {
  const stored: StoredEntry = { reason: entry.reason, source: entry.source, at: entry.at };
  if (entry.expiresAt !== undefined) stored.expiresAt = entry.expiresAt;
  return JSON.stringify(stored);
}

/** The entry stored for `address`, or undefined when the value is not one Herald wrote. */
export function decodeStored(address: string, value: string): SuppressionEntry | undefined {
  try {
    const stored = JSON.parse(value) as Partial<StoredEntry>;
    if (
      typeof stored.reason !== 'string' ||
      typeof stored.source !== 'string' ||
      typeof stored.at !== 'number'
    )
      return undefined;
    if (!isSource(stored.source)) return undefined;
    const entry: SuppressionEntry = { address, reason: stored.reason, source: stored.source, at: stored.at };
    if (!isDateTime(stored.at)) return undefined;
    // An expiry no Date can hold (written before toEntry refused one) never comes: read it as never.
    if (typeof stored.expiresAt === 'number' && isDateTime(stored.expiresAt))
      entry.expiresAt = stored.expiresAt;
    return entry;
  } catch {
    return undefined;
  }
}

export function isCurrent(entry: SuppressionEntry, now: number): boolean {
  return entry.expiresAt === undefined || entry.expiresAt > now;
}
