/**
 * What follows when recipients of an attempt bounce or expire: each bounce reply is classified
 * (bounce module) and a hard one (action `suppress`: unknown user, dead domain, ...) puts the
 * address on the tenant's suppression list and counts against the tenant's bounce rate; and the
 * report lines for the envelope sender, when the tenant wants DSNs — never for a message from the
 * null sender, so bounces never loop. The sender's RFC 3461 request rules who is in them: a
 * recipient with NOTIFY=NEVER (or without FAILURE) gets no failure report. Failures and `relayed`
 * notices are recorded in the message's collector (dsn-reports.ts) and sent once per message and
 * kind when its last job ends; `delayed` notices are sent now, one report for this pass with the
 * message's other deferred recipients (dsn-reports.ts `sendDelayed`). Recipients an operator
 * deleted get nothing; those an operator bounced get the DSN only. Runs before the job ends (a
 * failure here is logged by the caller, and the attempt's outcome stands).
 * Needs injected: the report collector, the other jobs' deferred recipients (optional), the
 * suppression and reputation sinks (optional) and a clock.
 */
import { classifyReply } from '../bounce/index.js';
import { type DsnRecipient, wantsReport } from '../dsn/index.js';
import { formatReply } from '../errors/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { DsnReports } from './dsn-reports.js';
import type { RecipientFailure, RecipientNotice } from './types.js';

export interface SuppressionEntryInput {
  address: string;
  reason: string;
  source: 'bounce';
}

export interface FollowUpDeps {
  /** Whether the tenant wants DSNs (tenants.<name>.dsn). */
  wantsDsn(tenant: string): boolean;
  /** The per-message report collector. */
  reports: Pick<DsnReports, 'record' | 'sendDelayed'>;
  /**
   * Recipients of the message's other jobs (not `data.domain`) still pending after a deferral
   * that want delay notices: the rest of a delay pass. Absent: this job's recipients only.
   */
  othersDeferred?(data: DeliveryJobData): Promise<DsnRecipient[]>;
  /**
   * Adds hard-bounced addresses to the tenant's suppression list and counts them (for the tenant,
   * and the account, behaviour/), once per message × recipient.
   */
  suppress?(
    tenant: string,
    entries: SuppressionEntryInput[],
    account?: string,
    messageId?: string,
  ): Promise<void>;
  /** Counts the tenant's hard bounces (reputation). */
  countHardBounces?(tenant: string, count: number): Promise<void>;
  now(): number;
}

export async function followUpFailures(
  data: DeliveryJobData,
  failures: readonly RecipientFailure[],
  deps: FollowUpDeps,
  notices: readonly RecipientNotice[] = [],
): Promise<void> {
  const hard: SuppressionEntryInput[] = [];
  const asked = new Map(data.recipients.map((r) => [r.address.toLowerCase(), r]));
  for (const failure of failures) {
    // An operator's bounce gets a DSN but is no verdict on the address: neither it nor a delete
    // is suppressed or counted against the tenant.
    if (failure.type === 'bounced' && !failure.operator) {
      const verdict = classifyReply(failure.reply, failure.address);
      if (verdict.action === 'suppress')
        hard.push({ address: failure.address, reason: verdict.reason, source: 'bounce' });
    }
  }
  const failed = failureLines(data, failures, deps.now());
  const line = (notice: RecipientNotice) =>
    lineOf(notice, notice.action, asked.get(notice.address.toLowerCase())?.orcpt, deps.now());
  const relayed = notices.filter((n) => n.action === 'relayed').map(line);
  const delayed = notices.filter((n) => n.action === 'delayed').map(line);
  if (hard.length > 0) {
    await deps.suppress?.(data.tenant, hard, data.account, data.messageId);
    await deps.countHardBounces?.(data.tenant, hard.length);
  }
  if (data.from === '' || !deps.wantsDsn(data.tenant)) return;
  await deps.reports.record(data, 'failure', failed);
  await deps.reports.record(data, 'success', relayed);
  if (delayed.length > 0)
    await deps.reports.sendDelayed(data, delayed, (await deps.othersDeferred?.(data)) ?? []);
}

/**
 * The failure report lines of `failures` (each recipient's NOTIFY deciding; an operator's delete
 * tells no one), whoever sends them: the follow-up, or an operator's bounce recording them with
 * its job's finish (delivery runtime's `operatorReport`).
 */
export function failureLines(
  data: DeliveryJobData,
  failures: readonly RecipientFailure[],
  now: number,
): DsnRecipient[] {
  const asked = new Map(data.recipients.map((r) => [r.address.toLowerCase(), r]));
  const lines: DsnRecipient[] = [];
  for (const failure of failures) {
    if (failure.operator === 'delete') continue;
    const request = asked.get(failure.address.toLowerCase());
    if (!wantsReport(request?.notify, 'failure')) continue;
    lines.push(lineOf(failure, 'failed', request?.orcpt, now));
  }
  return lines;
}

function lineOf(
  outcome: RecipientFailure | RecipientNotice,
  action: DsnRecipient['action'],
  orcpt: string | undefined,
  now: number,
): DsnRecipient {
  return {
    address: outcome.address,
    action,
    orcpt,
    status: outcome.reply.enhanced,
    diagnostic: formatReply(outcome.reply),
    remoteMta: outcome.reply.host,
    lastAttemptAt: now,
  };
}
