/**
 * What Herald does with one feedback report (a bounce or a complaint the bounce-processor has
 * read): find the VERP token it speaks for (the one it arrived at; for a complaint at the
 * complaint address, the first valid return path quoted in it), then act only for the recipient
 * that token names (trust.ts): put a hard bounce or a complaint on the tenant's suppression list,
 * count it for the tenant's reputation (which may pause its bulk mail) and emit a
 * `bounce_received` / `complaint_received` event (`verified: true`). Other addresses in the
 * report are logged at debug and otherwise ignored. A report none of whose addresses the token
 * confirms (a forwarded mailbox reports its final address; a feedback loop may redact it) is
 * recorded as one event for the message, about its first address, with `verified: false`,
 * `suppressed: false`, and changes nothing else. Auto-replies and delivery reports are recorded,
 * never suppressed.
 * At most once per token: a report that suppresses or counts sets
 * `<prefix>:{queue}:feedback:<bounce|complaint>:<message id>:<recipient hash>` (in the message's
 * queue shard) for the VERP max age, in the
 * same script that counts it (TenantReputation.countOnce); a repeat of it (the same report sent
 * again, or replayed) finds the marker and changes nothing, and emits no event. An unverified
 * bounce sets `…:feedback:unverified:…` the same way (its own marker: a verified report about
 * the token still acts), so its replays emit no event either.
 * A token too long to carry its tenant's name carries a keyed hash of it; the name is found among
 * the configured ones, else among those the spool recorded at enqueue.
 * Every write completes before this resolves, so the caller's 250 follows them; a Redis failure
 * rejects (the caller answers 451 and the sender retries).
 * Needs injected: the config, the command connection, suppression list, reputation, event sink, logger.
 */

import type { Logger } from 'pino';
import type { Behaviour } from '../behaviour/index.js';
import type { BounceReport, Classification } from '../bounce/index.js';
import { type HeraldConfig, tenantPolicy } from '../config/index.js';
import type { FeedbackEvent, RedisEventSink } from '../events/index.js';
import { type FeedbackMarkerKind, feedbackMarkerKey, queueKeys } from '../keys/index.js';
import { allShards, type ShardLayout, SINGLE_SHARD, shardOf } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import type { TenantReputation } from '../reputation/index.js';
import type { SuppressionList } from '../suppression/index.js';
import { decodeVerp, type VerpDecoded, type VerpResult, type VerpSettings } from '../verp/index.js';
import { firstHardBounces } from './hard-once.js';
import { actionFor, screenRecipients } from './trust.js';

/** Where the message arrived: the VERP recipient (bounce) or the complaint address. */
export type Arrival = { kind: 'verp'; token: VerpDecoded } | { kind: 'complaint' };

/** One report as the bounce-processor read it, and where it arrived. */
export interface FeedbackReport {
  arrival: Arrival;
  report: BounceReport;
  /** VERP return paths quoted in the message, in order, once each; not verified yet. */
  returnPaths: readonly string[];
}

export interface FeedbackResult {
  events: FeedbackEvent[];
  /** A message that named nobody we can act on (no tenant, no recipient): recorded in the log only. */
  ignored?: string;
  /** The token already had a report acted upon: nothing changed. */
  repeated?: boolean;
}

/** VERP settings plus the tenant names a hashed tenant is resolved against (knownTenants). */
export interface VerpContext extends VerpSettings {
  tenants: readonly string[];
}

export interface FeedbackParts {
  config: HeraldConfig;
  redis: RedisClient;
  suppression: SuppressionList;
  reputation: TenantReputation;
  events: RedisEventSink;
  logger: Logger;
  /** The queue's shards: a token's markers and counters are in its message's shard. */
  shards?: { readonly layout: ShardLayout };
  /** Compromised-account detection (config `behaviour`): a hard bounce or complaint counts for the message's account. */
  behaviour?: Behaviour | undefined;
}

/** Decodes one address as a VERP return path of this bounce domain. */
export function decodeToken(address: string, verp: VerpContext, now: number): VerpResult {
  return decodeVerp(address, verp.keys, {
    now,
    maxAgeMs: verp.maxAgeMs,
    domain: verp.domain,
    tenants: verp.tenants,
  });
}

function firstValidToken(
  returnPaths: readonly string[],
  verp: VerpContext,
  now: number,
): VerpDecoded | undefined {
  for (const address of returnPaths) {
    const decoded = decodeToken(address, verp, now);
    if (decoded.ok) return decoded;
  }
  return undefined;
}

/**
 * The tenant a token names: carried inline, matched among the configured names, or else among the
 * names the spool recorded for tenants whose tokens carry a hash (`<prefix>:{queue}:verp-tenants`,
 * one set per queue shard).
 */
async function tenantOf(parts: FeedbackParts, token: VerpDecoded): Promise<string | undefined> {
  if (token.tenant !== undefined || token.tenantHash === undefined) return token.tenant;
  const prefix = parts.config.redis.prefix;
  // Written per shard (in each enqueue's MULTI), read across them.
  const recorded = await Promise.all(
    allShards(layoutOf(parts)).map((shard) => parts.redis.smembers(queueKeys(prefix, shard).hashedTenants)),
  );
  return recorded.flat().find((name) => token.matchesTenant(name));
}

function layoutOf(parts: FeedbackParts): ShardLayout {
  return parts.shards?.layout ?? SINGLE_SHARD;
}

/**
 * The once-marker of a token: one message × one recipient, per kind of report; in the message's
 * queue shard (`shard`), with the counter it is set with.
 */
export function feedbackOnceKey(
  prefix: string,
  kind: FeedbackMarkerKind,
  token: VerpDecoded,
  shard = 0,
): string {
  return feedbackMarkerKey(prefix, kind, token.messageId, token.recipientHash, shard);
}

/** A token's once-marker of `kind` with its shard, kept for `ttlMs`. */
function onceOf(parts: FeedbackParts, kind: FeedbackMarkerKind, token: VerpDecoded, ttlMs: number) {
  const shard = shardOf(token.messageId, layoutOf(parts));
  return { key: feedbackOnceKey(parts.config.redis.prefix, kind, token, shard), ttlMs, shard };
}

type EventContext = {
  tenant: string;
  token: VerpDecoded;
  now: number;
  suppressed: boolean;
  verified: boolean;
};

function eventOf(r: Classification, complaint: boolean, context: EventContext): FeedbackEvent {
  return {
    type: complaint && r.reason === 'feedback' ? 'complaint_received' : 'bounce_received',
    time: context.now,
    tenant: context.tenant,
    messageId: context.token.messageId,
    recipient: r.address,
    reason: r.reason,
    hard: r.hard,
    ...(r.status ? { status: r.status } : {}),
    action: r.action,
    ...(r.feedbackType ? { feedbackType: r.feedbackType } : {}),
    suppressed: context.suppressed,
    verified: context.verified,
  };
}

export async function recordFeedback(
  parts: FeedbackParts,
  verp: VerpContext,
  input: FeedbackReport,
): Promise<FeedbackResult> {
  const { arrival, report } = input;
  const now = Date.now();
  const token = arrival.kind === 'verp' ? arrival.token : firstValidToken(input.returnPaths, verp, now);
  const tenant = token && (await tenantOf(parts, token));
  if (!token || !tenant) return { events: [], ignored: 'no VERP token names a tenant' };
  const complaint = report.kind === 'feedback' || arrival.kind === 'complaint';
  const { confirmed, others } = screenRecipients(token, report.recipients);
  if (others.length > 0)
    parts.logger.debug(
      { tenant, messageId: token.messageId, addresses: others.map((r) => r.address) },
      'bounce-processor: addresses the VERP token does not name, ignored',
    );
  const context = { tenant, token, now, suppressed: false, verified: false };
  if (!confirmed) {
    if (report.kind === 'feedback') return unverifiedComplaint(parts, verp, input, others[0], context);
    const first = others[0];
    if (!first) return { events: [], ignored: 'the report names no recipient' };
    // Recorded once per token too, under a marker of its own (counts nothing).
    const once = onceOf(parts, 'unverified', token, verp.maxAgeMs);
    if (!(await parts.reputation.countOnce(tenant, 'hard', 0, once))) return { events: [], repeated: true };
    const event = eventOf(first, complaint, context);
    parts.events.emit(event);
    return { events: [event] };
  }
  const action = actionFor(confirmed, complaint);
  if (action.suppress || action.count) {
    const once = onceOf(parts, action.kind, token, verp.maxAgeMs);
    if ((await parts.redis.exists(once.key)) > 0) return { events: [], repeated: true };
    // Suppression first (idempotent), then the marker and the count in one script: a crash in
    // between is repaired by the sender's retry, and a report never counts twice.
    if (action.suppress)
      await parts.suppression.addMany(tenant, [
        { address: confirmed.address, reason: confirmed.reason, source: action.kind },
      ]);
    // A hard bounce delivery already counted for this message × recipient counts no more.
    const counts =
      action.count === 'hard' ? await firstHardOf(parts, verp, token, confirmed.address) : !!action.count;
    const first = await parts.reputation.countOnce(tenant, action.count ?? 'hard', counts ? 1 : 0, once);
    if (!first) return { events: [], repeated: true };
    if (action.count && counts) {
      await parts.reputation.evaluate(tenant, tenantPolicy(parts.config, tenant));
      await countForAccount(parts, token, tenant, action.count);
    }
  }
  const event = eventOf(confirmed, complaint, { ...context, suppressed: action.suppress, verified: true });
  parts.events.emit(event);
  return { events: [event] };
}

/**
 * A feedback-loop report (ARF) about an authentic token whose recipient address it does not show
 * (many loops redact it): the complaint counts for the tenant's complaint rate, once per token,
 * but no address is suppressed (which one is not known). A stranger cannot forge a token, and one
 * token is one message to one recipient, so this is worth exactly one real complaint.
 */
async function unverifiedComplaint(
  parts: FeedbackParts,
  verp: VerpContext,
  input: FeedbackReport,
  named: Classification | undefined,
  context: EventContext,
): Promise<FeedbackResult> {
  const { tenant, token } = context;
  const once = onceOf(parts, 'complaint', token, verp.maxAgeMs);
  if (!(await parts.reputation.countOnce(tenant, 'complaint', 1, once)))
    return { events: [], repeated: true };
  await parts.reputation.evaluate(tenant, tenantPolicy(parts.config, tenant));
  await countForAccount(parts, token, tenant, 'complaint');
  const reported = named ?? input.report.recipients[0];
  const event: FeedbackEvent = {
    type: 'complaint_received',
    time: context.now,
    tenant,
    messageId: token.messageId,
    recipient: named?.address ?? '',
    reason: 'feedback',
    hard: false,
    action: reported?.action ?? 'suppress',
    ...(reported?.feedbackType ? { feedbackType: reported.feedbackType } : {}),
    suppressed: false,
    verified: false,
  };
  parts.events.emit(event);
  return { events: [event] };
}

/**
 * Counts a hard bounce or complaint for the account its message was accepted for (behaviour/),
 * when behaviour is on and the message's account record still lasts (the longest bounce /
 * complaint window); else it counts for no account.
 */
async function countForAccount(
  parts: FeedbackParts,
  token: VerpDecoded,
  tenant: string,
  kind: 'hard' | 'complaint',
): Promise<void> {
  if (!parts.behaviour) return;
  const account = await parts.behaviour.accountOfMessage(
    token.messageId,
    shardOf(token.messageId, layoutOf(parts)),
  );
  if (account) await parts.behaviour.countFeedback(account, tenant, kind, 1);
}

/** Whether this report is the first count of the token's message's hard bounce to `address`. */
async function firstHardOf(
  parts: FeedbackParts,
  verp: VerpContext,
  token: VerpDecoded,
  address: string,
): Promise<boolean> {
  const hard = {
    redis: parts.redis,
    prefix: parts.config.redis.prefix,
    layout: parts.shards?.layout,
    ttlMs: verp.maxAgeMs,
  };
  return (await firstHardBounces(hard, token.messageId, [address])).length === 1;
}
