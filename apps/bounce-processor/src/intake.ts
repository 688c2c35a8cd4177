/**
 * What the bounce-processor does with one received message: classify it (bounce module), tie each
 * reported recipient to the original message through the VERP token it came back to (or, for a
 * complaint at the complaint address, the VERP return path quoted in the report), then for each
 * recipient: put hard bounces and complaints on the tenant's suppression list, count them for the
 * tenant's reputation (which may pause its bulk mail), and emit a `bounce_received` /
 * `complaint_received` event. Auto-replies (vacation) and delivery reports are recorded, never
 * suppressed. Never throws on malformed input (it is classified `undefined`).
 */
import type { Herald } from '@herald/delivery-core';
import { classifyMessage, MAX_MESSAGE_BYTES } from '@herald/delivery-core/bounce';
import { DEFAULT_TENANT, tenantPolicy } from '@herald/delivery-core/config';
import type { FeedbackEvent } from '@herald/delivery-core/events';
import { decodeVerp, type VerpDecoded, type VerpResult, type VerpSettings } from '@herald/delivery-core/verp';

/** Where the message arrived: the VERP recipient (bounce) or the complaint address. */
export type Arrival = { kind: 'verp'; token: VerpDecoded } | { kind: 'complaint' };

export interface IntakeResult {
  events: FeedbackEvent[];
  /** A message that named nobody we can act on (no tenant): recorded in the log only. */
  ignored?: string;
}

/** A VERP return path quoted anywhere in a report (an ARF report quotes the original's headers). */
const QUOTED_VERP = /bounces\+[a-z2-7]+@[a-z0-9.-]+/gi;

/** Reasons that never put an address on the suppression list, whatever the action says. */
const NEVER_SUPPRESS = new Set(['vacation', 'delivered', 'undefined']);

/** VERP settings plus the tenant names a hashed tenant is resolved against (see knownTenants). */
export interface VerpContext extends VerpSettings {
  tenants: readonly string[];
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

function findQuotedToken(raw: Buffer, verp: VerpContext, now: number): VerpDecoded | undefined {
  const text = raw.subarray(0, MAX_MESSAGE_BYTES).toString('latin1');
  for (const match of text.matchAll(QUOTED_VERP)) {
    const decoded = decodeToken(match[0], verp, now);
    if (decoded.ok) return decoded;
  }
  return undefined;
}

/**
 * Tenant names a hashed VERP tenant can be resolved against: the configured tenants, every SMTP
 * user's tenant (default: its username) and `default` (names up to 9 characters travel inline).
 */
export function knownTenants(config: Herald['config']): string[] {
  const names = new Set([DEFAULT_TENANT, ...Object.keys(config.tenants)]);
  for (const user of config.smtp.users) names.add(user.tenant ?? user.username);
  return [...names];
}

export async function takeFeedback(
  herald: Herald,
  verp: VerpContext,
  arrival: Arrival,
  raw: Buffer,
): Promise<IntakeResult> {
  const now = Date.now();
  const report = classifyMessage(raw);
  const token = arrival.kind === 'verp' ? arrival.token : findQuotedToken(raw, verp, now);
  const tenant = token?.tenant;
  if (!tenant) return { events: [], ignored: 'no VERP token names a tenant' };
  // The report's own addresses (a forwarded mailbox reports its final address, which the token's
  // recipient hash could not give back).
  const recipients = report.recipients.map((r) => ({ ...r, address: r.address.trim().toLowerCase() }));
  const complaint = report.kind === 'feedback' || arrival.kind === 'complaint';
  const events: FeedbackEvent[] = [];
  const toSuppress: { address: string; reason: string; source: 'bounce' | 'complaint' }[] = [];
  let hard = 0;
  let complaints = 0;
  for (const r of recipients) {
    if (!r.address.includes('@')) continue;
    const isComplaint = complaint && r.reason === 'feedback';
    const suppress = isComplaint || (r.action === 'suppress' && !NEVER_SUPPRESS.has(r.reason));
    if (suppress)
      toSuppress.push({ address: r.address, reason: r.reason, source: isComplaint ? 'complaint' : 'bounce' });
    if (isComplaint) complaints++;
    else if (r.hard && suppress) hard++;
    events.push({
      type: isComplaint ? 'complaint_received' : 'bounce_received',
      time: now,
      tenant,
      ...(token?.messageId ? { messageId: token.messageId } : {}),
      recipient: r.address,
      reason: r.reason,
      hard: r.hard,
      ...(r.status ? { status: r.status } : {}),
      action: r.action,
      ...(r.feedbackType ? { feedbackType: r.feedbackType } : {}),
      suppressed: suppress,
    });
  }
  if (toSuppress.length > 0) await herald.suppression.addMany(tenant, toSuppress);
  if (hard > 0) await herald.reputation.count(tenant, 'hard', hard);
  if (complaints > 0) await herald.reputation.count(tenant, 'complaint', complaints);
  if (hard + complaints > 0) await herald.reputation.evaluate(tenant, tenantPolicy(herald.config, tenant));
  for (const event of events) herald.events.emit(event);
  return { events };
}
