/**
 * The `accounting` config section: the accounting log (accounting/), a CSV or JSON-lines file per
 * UTC day written from the event stream. Absent = off. The consumer `name` defaults at run time
 * to `node_id`, else the host name (not a config value, so not a schema default).
 */
import { z } from 'zod';
import { oneOf, section, text } from './fields.js';

export const ACCOUNTING_FORMATS = ['csv', 'jsonl'] as const;
/** Record types an accounting file can hold: one per attempt and per recipient outcome. */
export const ACCOUNTING_RECORD_TYPES = [
  'attempt',
  'delivered',
  'bounced',
  'expired',
  'suppressed',
  'deferred',
] as const;
export type AccountingRecordType = (typeof ACCOUNTING_RECORD_TYPES)[number];
/** Every attempt and every terminal outcome; `deferred` is opt-in (the attempts already say it). */
const DEFAULT_RECORDS: AccountingRecordType[] = ['attempt', 'delivered', 'bounced', 'expired', 'suppressed'];
/** A consumer name: letters, digits, '.', '_', '-', ':' (as node_id). */
const CONSUMER_NAME = /^[A-Za-z0-9._:-]{1,100}$/;
const NAME_HINT = 'expected a name of letters, digits, ".", "_", "-", ":" (at most 100)';

export const accountingSchema = section({
  /** Where the daily files go (created if missing). */
  directory: text('a directory path'),
  format: oneOf(ACCOUNTING_FORMATS).default('csv'),
  records: z
    .array(oneOf(ACCOUNTING_RECORD_TYPES), {
      error: `expected a list of record types (${ACCOUNTING_RECORD_TYPES.join(', ')})`,
    })
    .min(1, { error: 'expected at least one record type' })
    .refine((types) => new Set(types).size === types.length, { error: 'each record type may appear once' })
    .default(DEFAULT_RECORDS),
  /** The consumer's name: its cursor is `<prefix>:cursor:accounting:<name>`. Default: node_id or the host name. */
  name: z.string({ error: NAME_HINT }).regex(CONSUMER_NAME, { error: NAME_HINT }).optional(),
});
