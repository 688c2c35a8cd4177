/**
 * What follows when recipients of an attempt bounce or expire: each bounce reply is classified
 * (bounce module) and a hard one (action `suppress`: unknown user, dead domain, ...) puts the
 * address on the tenant's suppression list and counts against the tenant's bounce rate; and one
 * DSN (RFC 3464) for all of them goes to the envelope sender when the tenant wants DSNs — never
 * for a message from the null sender, so bounces never loop. The sender's RFC 3461 request rules
 * who is in it: a recipient with NOTIFY=NEVER (or without FAILURE) gets no failure report; the
 * attempt's notices (relayed with NOTIFY=SUCCESS, delayed) join the same report; its ENVID,
 * ORCPT and RET are echoed. Recipients an operator deleted get nothing; those an operator
 * bounced get the DSN only. Best effort after the attempt's
 * outcome is decided: a failure here is logged, it does not repeat the attempt.
 * Needs injected: the spool's body reader, an enqueue for the DSN, the suppression and
 * reputation sinks (optional), ids and a clock.
 */
import { classifyReply } from '../bounce/index.js';
import { composeDsn, type DsnRecipient, wantsReport } from '../dsn/index.js';
import { formatReply } from '../errors/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { RecipientFailure, RecipientNotice } from './types.js';

export interface SuppressionEntryInput {
  address: string;
  reason: string;
  source: 'bounce';
}

export interface FollowUpDeps {
  /** Our host name: the DSN's Reporting-MTA and sender domain. */
  hostname: string;
  /** Whether the tenant wants DSNs (tenants.<name>.dsn). */
  wantsDsn(tenant: string): boolean;
  getBody(messageId: string): Promise<Buffer | null | undefined>;
  /** Spools the DSN from the null sender to `to`, accounted to `tenant`. */
  enqueueDsn(dsn: { id: string; tenant: string; to: string; body: Buffer }): Promise<void>;
  newId(): string;
  /** Adds hard-bounced addresses to the tenant's suppression list (and counts them for the account, behaviour/). */
  suppress?(tenant: string, entries: SuppressionEntryInput[], account?: string): Promise<void>;
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
  const dsnRecipients: DsnRecipient[] = [];
  const asked = new Map(data.recipients.map((r) => [r.address.toLowerCase(), r]));
  for (const failure of failures) {
    // An operator's delete tells no one; an operator's bounce gets a DSN but is no verdict on the
    // address: neither is suppressed or counted against the tenant.
    if (failure.operator === 'delete') continue;
    if (failure.type === 'bounced' && !failure.operator) {
      const verdict = classifyReply(failure.reply, failure.address);
      if (verdict.action === 'suppress')
        hard.push({ address: failure.address, reason: verdict.reason, source: 'bounce' });
    }
    const request = asked.get(failure.address.toLowerCase());
    if (!wantsReport(request?.notify, 'failure')) continue;
    dsnRecipients.push({
      address: failure.address,
      action: 'failed',
      orcpt: request?.orcpt,
      status: failure.reply.enhanced,
      diagnostic: formatReply(failure.reply),
      remoteMta: failure.reply.host,
      lastAttemptAt: deps.now(),
    });
  }
  for (const notice of notices) {
    dsnRecipients.push({
      address: notice.address,
      action: notice.action,
      orcpt: asked.get(notice.address.toLowerCase())?.orcpt,
      status: notice.reply.enhanced,
      diagnostic: formatReply(notice.reply),
      remoteMta: notice.reply.host,
      lastAttemptAt: deps.now(),
    });
  }
  if (hard.length > 0) {
    await deps.suppress?.(data.tenant, hard, data.account);
    await deps.countHardBounces?.(data.tenant, hard.length);
  }
  if (data.from === '' || dsnRecipients.length === 0 || !deps.wantsDsn(data.tenant)) return;
  const id = deps.newId();
  const body = composeDsn({
    reportingMta: deps.hostname,
    to: data.from,
    originalId: data.messageId,
    arrivalAt: data.acceptedAt,
    recipients: dsnRecipients,
    original: (await deps.getBody(data.messageId)) ?? undefined,
    ret: data.ret,
    envid: data.envid,
    messageId: `${id}.dsn@${deps.hostname}`,
    now: deps.now(),
  });
  await deps.enqueueDsn({ id, tenant: data.tenant, to: data.from, body });
}
