/**
 * Building check results: one constructor, and the order of severity used to combine findings.
 */
import type { CheckResult, CheckStatus } from './types.js';

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
