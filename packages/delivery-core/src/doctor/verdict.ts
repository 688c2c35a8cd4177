/**
 * Building check results: one constructor, the order of severity used to combine findings, and
 * the TXT lookup most checks start with.
 */
import { txtOf } from './snapshot.js';
import type { CheckResult, CheckStatus, DnsView } from './types.js';

const SEVERITY: Record<CheckStatus, number> = { pass: 0, info: 1, warn: 2, fail: 3 };

export function verdict(
  id: string,
  status: CheckStatus,
  reason: string,
  fix = '',
  details?: Record<string, unknown>,
): CheckResult {
  return details === undefined ? { id, status, reason, fix } : { id, status, reason, fix, details };
}

/** The most severe of the statuses (fail > warn > info > pass); pass for none. */
export function worst(statuses: CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'pass');
}

/** One finding of a check with several aspects (e.g. DMARC policy and reporting). */
export interface Finding {
  status: CheckStatus;
  reason: string;
  fix?: string;
}

/** A check made of findings: the worst status, the reasons and fixes of those that are not pass. */
export function combine(
  id: string,
  passReason: string,
  findings: Finding[],
  details?: Record<string, unknown>,
): CheckResult {
  const status = worst(findings.map((f) => f.status));
  const shown = findings.filter((f) => f.status !== 'pass');
  if (shown.length === 0) return verdict(id, 'pass', passReason, '', details);
  const reason = shown.map((f) => f.reason).join('; ');
  const fix = shown.flatMap((f) => (f.fix ? [f.fix] : [])).join(' ');
  return verdict(id, status, reason, fix, details);
}

/**
 * The TXT strings at `name` that `isRecord` accepts, or check `id`'s failing verdict when the
 * lookup itself failed.
 */
export function txtRecords(
  view: DnsView,
  id: string,
  name: string,
  isRecord: (text: string) => boolean,
): string[] | CheckResult {
  const lookup = view.get(name, 'TXT');
  if (lookup.kind === 'error')
    return verdict(
      id,
      'fail',
      `TXT lookup of ${name} failed: ${lookup.message}`,
      'Make the zone answer TXT queries.',
    );
  return txtOf(lookup).filter(isRecord);
}
