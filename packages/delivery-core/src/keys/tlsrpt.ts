/**
 * SMTP TLS Reporting's keys (tlsrpt/): per UTC day one hash tag, `{tlsrpt:<YYYY-MM-DD>}`, shared
 * by the day's domain index, each policy domain's counters and its "report sent" marker, so the
 * counting MULTI (index + counters) stays in one slot on Redis Cluster and a day's keys can be
 * read together. The sender's lease is a key of its own. Pure key math.
 */

/** The day's hash tag (ARCHITECTURE "Redis key layout"). */
export const tlsRptTag = (day: string): string => `{tlsrpt:${day}}`;

export interface TlsRptDayKeys {
  /** The policy domains counted that day (set). */
  domains: string;
  /** One domain's counters (hash: `p:<id>` policy JSON, `ok:<id>` successes, `f:<id>:<detail>` failures). */
  counts(domain: string): string;
  /** The domain's report for the day was sent, or is being sent (string with a TTL; SET NX). */
  sent(domain: string): string;
}

export function tlsRptDayKeys(prefix: string, day: string): TlsRptDayKeys {
  const base = `${prefix}:tlsrpt:${tlsRptTag(day)}`;
  return {
    domains: `${base}:domains`,
    counts: (domain) => `${base}:counts:${domain}`,
    sent: (domain) => `${base}:sent:${domain}`,
  };
}

/** Which relay runs the daily report job (string: a token, with a TTL; SET NX PX). */
export const tlsRptLeaseKey = (prefix: string): string => `${prefix}:tlsrpt:lease`;
