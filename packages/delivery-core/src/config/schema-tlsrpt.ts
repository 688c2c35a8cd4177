/**
 * The `tls_reporting` config section: SMTP TLS Reporting (RFC 8460, tlsrpt/). Off by default. When
 * enabled, every MX delivery attempt's TLS outcome is counted per recipient domain and UTC day,
 * and once a day (at `send_at` UTC, by one relay) each domain's report for the day before goes to
 * the `rua` of its `_smtp._tls` record. `organization_name`, `contact_info` and `from` are then
 * required (they are in every report).
 */
import { z } from 'zod';
import { bool, section, text, timerDuration } from './fields.js';

/** `HH:MM` (UTC), 00:00–23:59. */
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const MS_PER_MINUTE = 60_000;
const MINUTES_PER_HOUR = 60;
const MS_PER_DAY = 86_400_000;
const SEND_AT_HINT = 'expected a UTC time HH:MM';
const MAILBOX = /^[^@\s<>]+@[^@\s<>]+$/;

export const tlsReportingSchema = section({
  enabled: bool().default(false),
  /** The report's `organization-name`. */
  organization_name: text('the organization name to put in reports').optional(),
  /** The report's `contact-info` (an email address or URI the receiver can write to). */
  contact_info: text('a contact address or URI').optional(),
  /** The envelope and From: of mailed reports; its domain is the report submitter. */
  from: z
    .string({ error: 'expected an email address' })
    .regex(MAILBOX, { error: 'expected an email address' })
    .optional(),
  /**
   * When (UTC, `HH:MM`) the reports of the day before are sent; as ms after midnight (a number
   * of ms is taken as is: the parsed config parses again, e.g. in delivery threads).
   */
  send_at: z
    .union([z.string(), z.number()], { error: SEND_AT_HINT })
    .default('00:30')
    .transform((value, ctx) => {
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < MS_PER_DAY)
        return value;
      const hhmm = typeof value === 'string' ? CLOCK_TIME.exec(value) : null;
      if (hhmm) return (Number(hhmm[1]) * MINUTES_PER_HOUR + Number(hhmm[2])) * MS_PER_MINUTE;
      ctx.addIssue({ code: 'custom', message: SEND_AT_HINT, input: value });
      return z.NEVER;
    }),
  /** Bound on one https: POST of a report. */
  http_timeout: timerDuration().prefault('30s'),
  /** PEM certificates trusted beside Node's roots for https: rua endpoints. */
  ca_file: text('a file path').optional(),
  /** The tenant whose send() mails the reports (its DKIM key and sender policy apply). */
  tenant: text('a tenant name').default('default'),
}).superRefine((section, ctx) => {
  if (!section.enabled) return;
  for (const key of ['organization_name', 'contact_info', 'from'] as const)
    if (section[key] === undefined)
      ctx.addIssue({ code: 'custom', path: [key], message: `required when tls_reporting.enabled is true` });
});
