/**
 * What the bounce-processor reads of one received message (in a classifier thread): the
 * classifier's BounceReport and the VERP return paths quoted in the message (an ARF report quotes
 * the original's headers), at most MAX_QUOTED_RETURN_PATHS distinct ones from its first
 * MAX_MESSAGE_BYTES. Pure and synchronous; never throws (classifyMessage does not; the scan is one
 * linear pattern). `unreadReport` stands for a message that could not be read in time.
 */
import {
  type BounceReport,
  type ClassifyOptions,
  classifyMessage,
  MAX_MESSAGE_BYTES,
} from '@herald/delivery-core/bounce';
import { VERP_LOCAL_PREFIX } from '@herald/delivery-core/verp';

/** Quoted return paths tried per message (each costs an HMAC to verify). */
export const MAX_QUOTED_RETURN_PATHS = 16;

/** A VERP return path: the prefix, the base32 token, any domain (decodeVerp checks it). */
const QUOTED_VERP = new RegExp(`${VERP_LOCAL_PREFIX.replace('+', '\\+')}[a-z2-7]+@[a-z0-9.-]+`, 'gi');

export interface ReadReport {
  report: BounceReport;
  /** VERP return paths quoted in the message, in order, once each; not verified yet. */
  returnPaths: string[];
}

export function readReport(raw: Uint8Array, options: ClassifyOptions = {}): ReadReport {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, MAX_MESSAGE_BYTES));
  const report = classifyMessage(bytes, options);
  const found = new Set<string>();
  for (const match of bytes.toString('latin1').matchAll(QUOTED_VERP)) {
    found.add(match[0].toLowerCase());
    if (found.size >= MAX_QUOTED_RETURN_PATHS) break;
  }
  return { report, returnPaths: [...found] };
}

/** The reading of a message the classifier could not read (over its time budget, or failed). */
export function unreadReport(): ReadReport {
  return { report: classifyMessage(''), returnPaths: [] };
}
