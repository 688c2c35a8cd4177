/**
 * The end of an attempt: each recipient's reply becomes delivered / bounced / deferred (an event
 * each, state written into the job data), and the deferred ones get a retry time by their retry
 * class, or expire past the queue lifetime. Bounced and expired recipients are collected as
 * failures for the follow-up (DSN, suppression). Pure apart from the injected event sink and clock.
 */
import { wantsReport } from '../dsn/index.js';
import { formatReply, type SmtpReply } from '../errors/index.js';
import type { OperatorAction, RecipientEventType } from '../events/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import {
  EXPIRED_REPLY,
  type RetryClass,
  type RetryPolicy,
  retryClassOf,
  retryDecisionForReplies,
} from '../retry/index.js';
import type {
  AttemptLimits,
  DeliveryDeps,
  DeliveryOutcome,
  RecipientFailure,
  RecipientNotice,
} from './types.js';

export type Emit = (
  recipient: DeliveryJobData['recipients'][number],
  type: RecipientEventType,
  reply: SmtpReply,
  extra?: { nextAttemptAt: number; retryClass: RetryClass } | { operator: OperatorAction },
) => void;

export function recipientEmitter(
  data: DeliveryJobData,
  deps: Pick<DeliveryDeps, 'events' | 'now'>,
  failures: RecipientFailure[],
): Emit {
  return (recipient, type, reply, extra) => {
    if (type !== 'deferred') recipient.state = type;
    if (type === 'bounced' || type === 'expired') {
      const operator = extra && 'operator' in extra ? extra.operator : undefined;
      failures.push({ address: recipient.address, type, reply, ...(operator ? { operator } : {}) });
    }
    const now = deps.now();
    deps.events.emit({
      type,
      time: now,
      messageId: data.messageId,
      tenant: data.tenant,
      domain: data.domain,
      recipient: recipient.address,
      attempt: data.attempts,
      reply,
      ...(extra ?? {}),
      ...(data.stream ? { stream: data.stream } : {}),
      ...(data.campaign ? { campaign: data.campaign } : {}),
      ...(data.site ? { site: data.site } : {}),
      ...(data.ownDsn ? { source: 'dsn' as const } : {}),
      latencyMs: now - data.acceptedAt,
    });
  };
}

/**
 * Applies per-recipient results, then schedules a retry or expires what is left. A recipient
 * accepted by a next hop that was not given its NOTIFY (`dsnPassed` false: no DSN there) and asked
 * for SUCCESS becomes a `relayed` notice; one deferred past the delay warning that wants DELAY
 * notices (or gave no NOTIFY) becomes a `delayed` notice, once (`delayNotifiedAt`).
 */
export function settle(
  data: DeliveryJobData,
  deps: DeliveryDeps,
  emit: Emit,
  results: { address: string; accepted: boolean; reply: SmtpReply; dsnPassed?: boolean }[],
  limits?: AttemptLimits,
): DeliveryOutcome {
  const byAddress = new Map(data.recipients.map((r) => [r.address.toLowerCase(), r]));
  const deferred: { recipient: DeliveryJobData['recipients'][number]; reply: SmtpReply }[] = [];
  const notices: RecipientNotice[] = [];
  for (const result of results) {
    const recipient = byAddress.get(result.address.toLowerCase());
    if (recipient?.state !== 'pending') continue;
    if (result.accepted) {
      emit(recipient, 'delivered', result.reply);
      if (!result.dsnPassed && recipient.notify && wantsReport(recipient.notify, 'success'))
        notices.push({ address: recipient.address, action: 'relayed', reply: result.reply });
    } else if (result.reply.code >= 500) emit(recipient, 'bounced', result.reply);
    else deferred.push({ recipient, reply: result.reply });
  }
  const withNotices = <T extends DeliveryOutcome>(outcome: T): T =>
    notices.length > 0 ? { ...outcome, notices } : outcome;
  if (deferred.length === 0) return withNotices({ kind: 'done', data });
  // Each deferred reply has a retry class (greylisted, throttled, mailbox_full, ...) with its
  // own schedule; the job comes back at the earliest of its recipients' times.
  const decision = retryDecisionForReplies(retryPolicyFor(deps.retry, limits), {
    attemptsMade: data.attempts,
    firstAttemptAt: data.acceptedAt,
    now: deps.now(),
    replies: deferred.map((d) => d.reply),
    classify: retryClassOf,
  });
  if (decision.action === 'expire') {
    for (const { recipient, reply } of deferred) {
      emit(recipient, 'expired', expiredReply(formatReply(reply)));
    }
    return withNotices({ kind: 'done', data });
  }
  const now = deps.now();
  const warnAfter = deps.delayWarningMs?.(data.tenant);
  for (const [i, { recipient, reply }] of deferred.entries()) {
    recipient.lastError = formatReply(reply).slice(0, LAST_ERROR_MAX_CHARS);
    emit(recipient, 'deferred', reply, { nextAttemptAt: decision.at, retryClass: decision.classes[i]! });
    if (
      warnAfter !== undefined &&
      warnAfter > 0 &&
      now - data.acceptedAt >= warnAfter &&
      recipient.delayNotifiedAt === undefined &&
      wantsReport(recipient.notify, 'delay')
    ) {
      recipient.delayNotifiedAt = now;
      notices.push({ address: recipient.address, action: 'delayed', reply });
    }
  }
  return withNotices({ kind: 'retry', at: decision.at, data });
}

/** The relay's retry policy with the destination's schedule and lifetime (shaping) when set. */
function retryPolicyFor(base: RetryPolicy, limits: AttemptLimits | undefined): RetryPolicy {
  if (!limits?.retryScheduleMs && limits?.maxQueueLifetimeMs === undefined) return base;
  return {
    ...base,
    scheduleMs: limits.retryScheduleMs ?? base.scheduleMs,
    maxQueueLifetimeMs: limits.maxQueueLifetimeMs ?? base.maxQueueLifetimeMs,
  };
}

/** Kept of a deferral's reply in the job data (the expiry's "last error"). */
const LAST_ERROR_MAX_CHARS = 300;

/** 554 5.4.7 delivery time expired, with the last error when one is known. */
export function expiredReply(lastError: string | undefined): SmtpReply {
  return lastError
    ? { ...EXPIRED_REPLY, text: `${EXPIRED_REPLY.text}; last error: ${lastError}` }
    : { ...EXPIRED_REPLY };
}
