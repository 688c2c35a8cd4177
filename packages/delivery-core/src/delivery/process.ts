/**
 * One delivery attempt of one job, as pure orchestration over injected parts (spool, resolver,
 * SMTP pool, events, clock): resolve where to go, send, turn every recipient's reply into
 * delivered / bounced / deferred, and decide the retry time or expiry. Returns what the queue must
 * do next; never throws a DeliveryError (unexpected errors propagate to the worker wrapper).
 */

import type { Resolver } from '../dns/index.js';
import { formatReply, type SmtpReply, toDeliveryError } from '../errors/index.js';
import type { EventSink, RecipientEventType } from '../events/index.js';
import type { DeliveryJobData, Spool } from '../queue/index.js';
import { EXPIRED_REPLY, type RetryClass, type RetryPolicy, retryDecisionForReplies } from '../retry/index.js';
import {
  type CandidateHost,
  deliverAttempt,
  type SessionLimits,
  type SmtpPool,
  type TlsMode,
} from '../smtp/index.js';
import { hostsFor, type StaticRoute } from './hosts.js';
import { retryClassOf } from './retry-class.js';

export interface DeliveryDeps {
  spool: Spool;
  resolver: Resolver;
  pool: SmtpPool;
  events: EventSink;
  retry: RetryPolicy;
  /** Static route for a domain, or undefined to use MX. */
  routeFor(domain: string): StaticRoute | undefined;
  mxPort: number;
  tls: TlsMode;
  tlsVerify: boolean;
  now(): number;
  /** Admission control (shaping); absent = always admitted. */
  gate?: DeliveryGate;
}

export type DeliveryOutcome =
  | { kind: 'done'; data: DeliveryJobData }
  | { kind: 'retry'; at: number; data: DeliveryJobData }
  /** Not admitted by the gate (shaping): reschedule at `at`; no attempt was spent. */
  | {
      kind: 'throttled';
      at: number;
      data: DeliveryJobData;
      reason: string;
      /** Waiting for a connection slot of this site: a released slot may wake the job earlier. */
      parkOn?: string;
    };

/** Per-destination settings for one attempt (from shaping); unset fields use the relay's own. */
export interface AttemptLimits extends SessionLimits {
  /** For MX deliveries; a static route's own TLS setting wins. */
  tls?: TlsMode;
  tlsVerify?: boolean;
  /** The site's retry schedule and queue lifetime (shaping), instead of the relay's. */
  retryScheduleMs?: readonly number[];
  maxQueueLifetimeMs?: number;
  /** The source IP to bind (from the tenant's or stream's pool) and its EHLO name. */
  localAddress?: string;
  ehloName?: string;
  /** The source IP, for automation rules that suspend one source at a site. */
  source?: string;
}

/**
 * Admission control before a delivery attempt (traffic shaping plugs in here): either admitted,
 * with a release to call when the attempt is over, or told when to come back.
 */
export interface DeliveryGate {
  admit(request: {
    domain: string;
    hosts: CandidateHost[];
    route?: StaticRoute | undefined;
    data: DeliveryJobData;
  }): Promise<
    | { admitted: true; release(): void; limits?: AttemptLimits }
    | { admitted: false; until: number; reason: string; parkOn?: string }
  >;
  /** Sees every reply of an attempt (automation rules act on them). Must not throw. */
  observe?(
    request: {
      domain: string;
      hosts: CandidateHost[];
      route?: StaticRoute | undefined;
      source?: string | undefined;
    },
    replies: SmtpReply[],
  ): Promise<void>;
  /** The destination's max queue lifetime (shaping), ms. */
  queueLifetimeMs?(request: {
    domain: string;
    hosts: CandidateHost[];
    route?: StaticRoute | undefined;
  }): number;
}

const BODY_LOST_REPLY: SmtpReply = {
  code: 554,
  enhanced: '5.3.0',
  text: 'message body missing from the spool',
  stage: 'queue',
};

export async function processDelivery(input: DeliveryJobData, deps: DeliveryDeps): Promise<DeliveryOutcome> {
  const data: DeliveryJobData = { ...input, recipients: input.recipients.map((r) => ({ ...r })) };
  const pending = () => data.recipients.filter((r) => r.state === 'pending');
  if (pending().length === 0) return { kind: 'done', data };
  const emit = recipientEmitter(data, deps);

  const expireAll = (): DeliveryOutcome => {
    for (const r of pending()) emit(r, 'expired', EXPIRED_REPLY);
    return { kind: 'done', data };
  };
  // With a gate the lifetime is the destination's (shaping), known once its hosts are.
  if (!deps.gate && deps.now() >= data.acceptedAt + deps.retry.maxQueueLifetimeMs) return expireAll();
  const route = deps.routeFor(data.domain);
  let hosts: CandidateHost[];
  try {
    hosts = (await hostsFor(data.domain, route, deps.resolver, deps.mxPort)).hosts;
  } catch (err) {
    data.attempts += 1;
    const error = toDeliveryError(err, 'dns');
    return settle(
      data,
      deps,
      emit,
      pending().map((r) => ({ address: r.address, accepted: false, reply: error.reply })),
    );
  }
  const lifetimeMs = deps.gate?.queueLifetimeMs?.({ domain: data.domain, hosts, route });
  if (deps.now() >= data.acceptedAt + (lifetimeMs ?? deps.retry.maxQueueLifetimeMs)) return expireAll();
  const admission = deps.gate
    ? await deps.gate.admit({ domain: data.domain, hosts, route, data })
    : undefined;
  if (admission && !admission.admitted) {
    const outcome: DeliveryOutcome = {
      kind: 'throttled',
      at: admission.until,
      data,
      reason: admission.reason,
    };
    if (admission.parkOn) outcome.parkOn = admission.parkOn;
    return outcome;
  }
  try {
    const recipients = pending().map((r) => r.address);
    const limits = admission?.admitted ? admission.limits : undefined;
    const { outcome, replies } = await attempt(data, deps, emit, recipients, hosts, route, limits);
    if (replies.length > 0)
      await deps.gate?.observe?.({ domain: data.domain, hosts, route, source: limits?.source }, replies);
    return outcome;
  } finally {
    if (admission?.admitted) admission.release();
  }
}

/** One counted delivery attempt of the pending recipients to `hosts`. */
async function attempt(
  data: DeliveryJobData,
  deps: DeliveryDeps,
  emit: Emit,
  recipients: string[],
  hosts: CandidateHost[],
  route: StaticRoute | undefined,
  limits: AttemptLimits | undefined,
): Promise<{ outcome: DeliveryOutcome; replies: SmtpReply[] }> {
  data.attempts += 1;
  const body = await deps.spool.getBody(data.messageId);
  if (!body) {
    const byAddress = new Map(data.recipients.map((r) => [r.address, r]));
    for (const address of recipients) emit(byAddress.get(address)!, 'bounced', BODY_LOST_REPLY);
    return { outcome: { kind: 'done', data }, replies: [] };
  }
  const report = await deliverAttempt(deps.pool, {
    from: data.from,
    recipients,
    body,
    hosts,
    tls: route?.tls ?? limits?.tls ?? deps.tls,
    tlsVerify: route ? deps.tlsVerify : (limits?.tlsVerify ?? deps.tlsVerify),
    // deliverAttempt keeps only the SessionLimits fields that are set.
    maxMessagesPerConnection: limits?.maxMessagesPerConnection,
    maxConnections: limits?.maxConnections,
    site: limits?.site,
    siteMaxConnections: limits?.siteMaxConnections,
    siteConnectionRate: limits?.siteConnectionRate,
    timeouts: limits?.timeouts,
    localAddress: limits?.localAddress,
    ehloName: limits?.ehloName,
    ...(route?.auth ? { auth: route.auth } : {}),
  });
  if (report.throttled) {
    // No connection under the site's limit: not an attempt; wait for a slot.
    data.attempts -= 1;
    const reason = report.throttled.reply.text;
    const outcome: DeliveryOutcome = { kind: 'throttled', at: report.throttled.until, data, reason };
    if (limits?.site) outcome.parkOn = limits.site;
    return { outcome, replies: [] };
  }
  deps.events.emit({
    type: 'attempt',
    time: deps.now(),
    messageId: data.messageId,
    tenant: data.tenant,
    domain: data.domain,
    attempt: data.attempts,
    ...(report.host ? { host: report.host } : {}),
    hostErrors: report.hostErrors,
    results: report.recipients,
    durationMs: report.durationMs,
  });
  const replies = [...report.hostErrors.map((e) => e.reply), ...report.recipients.map((r) => r.reply)];
  return { outcome: settle(data, deps, emit, report.recipients, limits), replies };
}

type Emit = (
  recipient: DeliveryJobData['recipients'][number],
  type: RecipientEventType,
  reply: SmtpReply,
  retry?: { nextAttemptAt: number; retryClass: RetryClass },
) => void;

function recipientEmitter(data: DeliveryJobData, deps: DeliveryDeps): Emit {
  return (recipient, type, reply, retry) => {
    if (type !== 'deferred') recipient.state = type;
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
      ...(retry ?? {}),
      ...(data.stream ? { stream: data.stream } : {}),
      ...(data.campaign ? { campaign: data.campaign } : {}),
      latencyMs: now - data.acceptedAt,
    });
  };
}

/** Applies per-recipient results, then schedules a retry or expires what is left. */
function settle(
  data: DeliveryJobData,
  deps: DeliveryDeps,
  emit: Emit,
  results: { address: string; accepted: boolean; reply: SmtpReply }[],
  limits?: AttemptLimits,
): DeliveryOutcome {
  const byAddress = new Map(data.recipients.map((r) => [r.address.toLowerCase(), r]));
  const deferred: { recipient: DeliveryJobData['recipients'][number]; reply: SmtpReply }[] = [];
  for (const result of results) {
    const recipient = byAddress.get(result.address.toLowerCase());
    if (recipient?.state !== 'pending') continue;
    if (result.accepted) emit(recipient, 'delivered', result.reply);
    else if (result.reply.code >= 500) emit(recipient, 'bounced', result.reply);
    else deferred.push({ recipient, reply: result.reply });
  }
  if (deferred.length === 0) return { kind: 'done', data };
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
      emit(recipient, 'expired', {
        ...EXPIRED_REPLY,
        text: `${EXPIRED_REPLY.text}; last error: ${formatReply(reply)}`,
      });
    }
    return { kind: 'done', data };
  }
  for (const [i, { recipient, reply }] of deferred.entries())
    emit(recipient, 'deferred', reply, { nextAttemptAt: decision.at, retryClass: decision.classes[i]! });
  return { kind: 'retry', at: decision.at, data };
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
