/**
 * One delivery attempt of one job, as pure orchestration over injected parts (spool, resolver,
 * SMTP pool, events, clock): resolve where to go, send, turn every recipient's reply into
 * delivered / bounced / deferred, and decide the retry time or expiry. A body missing from the
 * spool bounces (554 5.3.0) only while its message is queued; a job whose message is not in the
 * spool at all (a write answered 451 / 503 that a failover lost, or an ended message) is done
 * with no attempt and no event (`messageGone`). Returns what the queue must do next; never throws
 * a DeliveryError (unexpected errors propagate to the worker wrapper).
 */

import { type SmtpReply, toDeliveryError } from '../errors/index.js';
import type { AttemptEvent } from '../events/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { CandidateHost } from '../smtp/index.js';
import { traceAttempt } from './attempt-span.js';
import { hostsFor, type StaticRoute } from './hosts.js';
import { operatorReply } from './operator.js';
import { type Emit, expiredReply, recipientEmitter, settle } from './settle.js';
import { sendTransactions, transactionOptions } from './transactions.js';
import {
  type AttemptLimits,
  type ConnectionVerdict,
  type DeliveryDeps,
  type DeliveryOutcome,
  PARK_SAFETY_MS,
  type RecipientFailure,
  type TlsPolicyDecision,
} from './types.js';

export type {
  AttemptLimits,
  DeliveryDeps,
  DeliveryGate,
  DeliveryOutcome,
  RecipientFailure,
  TlsPolicyDecision,
} from './types.js';

const BODY_LOST_REPLY: SmtpReply = {
  code: 554,
  enhanced: '5.3.0',
  text: 'message body missing from the spool',
  stage: 'queue',
};

/**
 * What a fast-lane job (delivery/fast-path.ts) brings along. `body`: the spooled message already in
 * memory, so the attempt does not read it from Redis. `fresh`: the job was handed over right after
 * the enqueue that leased it committed and runs at once (the lane grants only slots it can run
 * now), so no operator can have marked it as anything but in flight: its first attempt reads no
 * operator mark. A mark set since is one set while the attempt was on the wire, which the reads
 * after the attempt apply (after-attempt.ts), exactly as for a job whose read came back empty just
 * before the mark was written.
 */
export interface Preloaded {
  body: Buffer;
  fresh?: boolean;
}

export async function processDelivery(
  input: DeliveryJobData,
  deps: DeliveryDeps,
  preloaded?: Preloaded,
): Promise<DeliveryOutcome> {
  const failures: RecipientFailure[] = [];
  const outcome = await runAttempt(input, deps, failures, preloaded);
  if (outcome.kind === 'throttled') deps.meter?.throttled(outcome.data.site, outcome.reason);
  if (failures.length > 0 && outcome.kind !== 'throttled') outcome.failures = failures;
  return outcome;
}

async function runAttempt(
  input: DeliveryJobData,
  deps: DeliveryDeps,
  failures: RecipientFailure[],
  preloaded: Preloaded | undefined,
): Promise<DeliveryOutcome> {
  const data: DeliveryJobData = { ...input, recipients: input.recipients.map((r) => ({ ...r })) };
  const pending = () => data.recipients.filter((r) => r.state === 'pending');
  if (pending().length === 0) return { kind: 'done', data };
  const emit = recipientEmitter(data, deps, failures);

  const expireAll = (): DeliveryOutcome => {
    for (const r of pending()) emit(r, 'expired', expiredReply(r.lastError));
    return { kind: 'done', data };
  };
  // With a gate the lifetime is the destination's (shaping), known once its hosts are.
  if (!deps.gate && deps.now() >= data.acceptedAt + deps.retry.maxQueueLifetimeMs) return expireAll();
  const route = deps.routeFor(data.domain);
  let hosts: CandidateHost[];
  let mxNames: string[] | undefined;
  try {
    ({ hosts, mxNames } = await hostsFor(data.domain, route, deps.resolver, deps.mxPort));
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
  // The gate names the site after the MX RRset (mxNames), not after the hosts picked to try.
  const destination = { domain: data.domain, hosts, route, ...(mxNames ? { mxNames } : {}) };
  const lifetimeMs = deps.gate?.queueLifetimeMs?.(destination);
  if (deps.now() >= data.acceptedAt + (lifetimeMs ?? deps.retry.maxQueueLifetimeMs)) return expireAll();
  // The receiving domain's TLS policy (DANE, else MTA-STS) governs MX deliveries, not static
  // routes; DANE in the mode shaping gives the destination's site (or the config's).
  const dane = route ? undefined : deps.gate?.daneMode?.(destination);
  const policy = route ? undefined : await deps.tlsPolicy?.(data.domain, hosts, dane ? { dane } : undefined);
  if (policy?.refuse) {
    data.attempts += 1;
    const reply = policy.refuse;
    // A spent attempt without a connection (MTA-STS: no MX matches the policy): its event names
    // the refused hosts, so the story and TLS reports (RFC 8460) see the failure.
    deps.events.emit(
      attemptEvent(data, deps, {
        ...(policy.policyString ? { mtaStsPolicy: policy.policyString } : {}),
        hostErrors: hosts.map((h) => ({ hostname: h.hostname, address: h.addresses[0] ?? '', reply })),
        results: pending().map((r) => ({ address: r.address, accepted: false, reply })),
        durationMs: 0,
      }),
    );
    return settle(
      data,
      deps,
      emit,
      pending().map((r) => ({ address: r.address, accepted: false, reply })),
    );
  }
  const admission = deps.gate ? await deps.gate.admit({ ...destination, data }) : undefined;
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
  let connection: ConnectionVerdict | undefined;
  try {
    const recipients = pending().map((r) => r.address);
    const limits = admission?.admitted ? admission.limits : undefined;
    const { outcome, replies, verdict } = await attempt(
      data,
      deps,
      emit,
      recipients,
      hosts,
      route,
      limits,
      policy,
      preloaded,
    );
    connection = verdict;
    if (replies.length > 0) await deps.gate?.observe?.({ ...destination, source: limits?.source }, replies);
    return outcome;
  } finally {
    if (admission?.admitted) admission.release(connection);
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
  policy: TlsPolicyDecision | undefined,
  preloaded: Preloaded | undefined,
): Promise<{ outcome: DeliveryOutcome; replies: SmtpReply[]; verdict?: ConnectionVerdict }> {
  data.attempts += 1;
  // The operator's mark is read with the body (one round trip on an auto-pipelined connection);
  // a fresh fast-lane job reads neither (Preloaded).
  const [body, mark] = preloaded?.fresh
    ? [preloaded.body, undefined]
    : await Promise.all([
        preloaded ? preloaded.body : deps.spool.getBody(data.messageId, data.size),
        deps.operatorMark ? deps.operatorMark(data) : undefined,
      ]);
  if (mark) {
    // Deleted or bounced by an operator: no attempt is made.
    data.attempts -= 1;
    const byAddress = new Map(data.recipients.map((r) => [r.address, r]));
    const reply = operatorReply(mark);
    for (const address of recipients)
      emit(byAddress.get(address)!, 'bounced', { ...reply }, { operator: mark.action });
    return { outcome: { kind: 'done', data }, replies: [] };
  }
  if (!body && (await deps.spool.pendingJobIds(data.messageId)).length === 0) {
    // Not in the spool at all: a write whose client heard 451 / 503 that a failover did not keep
    // (a job made up from memory), or a message already ended. Nothing of it was ever promised.
    data.attempts -= 1;
    return { outcome: { kind: 'done', data, messageGone: true }, replies: [] };
  }
  if (!body) {
    // The message is queued but its body is gone: it cannot be delivered, so it bounces.
    const byAddress = new Map(data.recipients.map((r) => [r.address, r]));
    for (const address of recipients) emit(byAddress.get(address)!, 'bounced', BODY_LOST_REPLY);
    return { outcome: { kind: 'done', data }, replies: [] };
  }
  const request = {
    body,
    hosts: policy?.hosts ?? hosts,
    // An enforced policy beats the site's override (even `none`); testing mode changes nothing.
    tls: policy?.tls ?? route?.tls ?? limits?.tls ?? deps.tls,
    tlsVerify: policy?.tlsVerify ?? (route ? deps.tlsVerify : (limits?.tlsVerify ?? deps.tlsVerify)),
    tlsCa: policy?.tlsCa,
    tlsRequiredBy: policy?.mode === 'enforce' ? 'MTA-STS' : undefined,
    // deliverAttempt keeps only the SessionLimits fields that are set.
    maxMessagesPerConnection: limits?.maxMessagesPerConnection,
    maxConnections: limits?.maxConnections,
    site: limits?.site,
    siteMaxConnections: limits?.siteMaxConnections,
    siteConnectionRate: limits?.siteConnectionRate,
    timeouts: limits?.timeouts,
    localAddress: limits?.localAddress,
    ehloName: limits?.ehloName,
    messageSlot: limits?.messageSlot,
    ...(route?.auth ? { auth: route.auth } : {}),
    ...(deps.mxLimits ? { maxAddresses: deps.mxLimits.addresses, maxSessions: deps.mxLimits.sessions } : {}),
    transaction: transactionOptions(data, deps),
  };
  const startedAt = Date.now();
  const report = await sendTransactions(deps, data, recipients, request);
  if (report.throttled) {
    // No connection under the site's limit: not an attempt; wait for a slot.
    data.attempts -= 1;
    const reason = report.throttled.reply.text;
    const outcome: DeliveryOutcome = { kind: 'throttled', at: report.throttled.until, data, reason };
    if (limits?.site) {
      // Parked: a release wakes it; PARK_SAFETY_MS is the net if that wake is lost.
      outcome.parkOn = limits.site;
      outcome.at = Math.min(outcome.at, deps.now() + PARK_SAFETY_MS);
    }
    return { outcome, replies: [] };
  }
  const problems = policy?.review?.(report.host) ?? [];
  const sts = policy?.mode === 'enforce' || policy?.mode === 'testing' ? policy.mode : undefined;
  const dane = policy?.daneResult?.(report.host, report.hostErrors);
  const daneTlsa = policy?.daneTlsa?.(report.host, report.hostErrors);
  deps.events.emit(
    attemptEvent(data, deps, {
      ...(report.host ? { host: sts ? { ...report.host, mtaSts: sts } : report.host } : {}),
      ...(problems.length > 0 ? { mtaStsProblems: problems } : {}),
      ...(dane ? { dane } : {}),
      ...(daneTlsa ? { daneTlsa } : {}),
      ...(sts && policy?.policyString ? { mtaStsPolicy: policy.policyString } : {}),
      ...(route ? { routed: true } : {}),
      hostErrors: report.hostErrors,
      ...(data.site ? { site: data.site } : {}),
      results: report.recipients,
      durationMs: report.durationMs,
    }),
  );
  const replies = [...report.hostErrors.map((e) => e.reply), ...report.recipients.map((r) => r.reply)];
  const verdict: ConnectionVerdict | undefined = report.connectionReply
    ? 'failure'
    : report.host
      ? 'success'
      : undefined;
  const outcome = settle(data, deps, emit, report.recipients, limits);
  traceAttempt(deps.tracer, data, recipients, report, startedAt);
  return { outcome, replies, verdict };
}

/** What an attempt saw: its `attempt` event less the job's identity and attempt count. */
type AttemptSeen = Omit<AttemptEvent, 'type' | 'time' | 'messageId' | 'tenant' | 'domain' | 'attempt'>;

/** The `attempt` event of a spent attempt (a connection's, or a TLS policy's refusal without one). */
function attemptEvent(data: DeliveryJobData, deps: DeliveryDeps, seen: AttemptSeen): AttemptEvent {
  return {
    type: 'attempt',
    time: deps.now(),
    messageId: data.messageId,
    tenant: data.tenant,
    domain: data.domain,
    attempt: data.attempts,
    ...seen,
  };
}
