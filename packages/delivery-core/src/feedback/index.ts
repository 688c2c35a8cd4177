/**
 * Feedback: what Herald does when mail comes back. Two ways in, one set of consequences:
 * - `record(report)`: a bounce or complaint the bounce-processor received and read (record.ts):
 *   acted on only for the recipient its VERP token names (trust.ts), once per token;
 * - `hardBounces(tenant, entries, account, messageId)`: recipients delivery itself saw refused
 *   permanently (the worker's follow-up): suppressed, counted as hard bounces, the tenant
 *   evaluated, and with `behaviour` on counted for the message's account (which may flag it).
 * A hard bounce counts once per message × recipient whichever way it came (hard-once.ts): a
 * later report about a recipient delivery already counted suppresses and is recorded, not counted.
 * Either may suppress the address, count it for the tenant's reputation (which may pause its bulk
 * mail) and emit events. Needs injected: the config, the command connection, the suppression
 * list, tenant reputation, event sink and logger.
 */
import { DEFAULT_TENANT, type HeraldConfig, tenantPolicy } from '../config/index.js';
import type { SuppressionInput } from '../suppression/index.js';
import { verpSettings } from '../verp/index.js';
import { firstHardBounces } from './hard-once.js';
import {
  type FeedbackParts,
  type FeedbackReport,
  type FeedbackResult,
  recordFeedback,
  type VerpContext,
} from './record.js';

export {
  type Arrival,
  decodeToken,
  type FeedbackParts,
  type FeedbackReport,
  type FeedbackResult,
  feedbackOnceKey,
  type VerpContext,
} from './record.js';
export { actionFor, type FeedbackAction, type ScreenedRecipients, screenRecipients } from './trust.js';

/**
 * Tenant names a hashed VERP tenant can be resolved against: the configured tenants, every SMTP
 * user's tenant (default: its username) and `default` (names up to 9 characters travel inline).
 */
export function knownTenants(config: HeraldConfig): string[] {
  const names = new Set([DEFAULT_TENANT, ...Object.keys(config.tenants)]);
  for (const user of config.smtp.users) names.add(user.tenant ?? user.username);
  return [...names];
}

/** The VERP context of a config with a `bounce` section: its keys and the tenant names it resolves. */
export function verpContext(config: HeraldConfig): VerpContext | undefined {
  const settings = verpSettings(config);
  return settings ? { ...settings, tenants: knownTenants(config) } : undefined;
}

export interface Feedback {
  /** Acts on one received report; rejects when Redis fails (the caller answers 451). */
  record(report: FeedbackReport): Promise<FeedbackResult>;
  /**
   * Delivery's permanent failures of one message: suppress them, count them as hard bounces
   * (those not counted for the message yet, when `messageId` is given), evaluate the tenant.
   */
  hardBounces(
    tenant: string,
    entries: SuppressionInput[],
    account?: string,
    messageId?: string,
  ): Promise<void>;
}

export function createFeedback(parts: FeedbackParts): Feedback {
  const verp = verpContext(parts.config);
  return {
    async record(report) {
      if (!verp) return { events: [], ignored: 'no bounce section: VERP tokens cannot be read' };
      return recordFeedback(parts, verp, report);
    },
    async hardBounces(tenant, entries, account, messageId) {
      await parts.suppression.addMany(tenant, entries);
      const fresh =
        verp && messageId
          ? (
              await firstHardBounces(
                {
                  redis: parts.redis,
                  prefix: parts.config.redis.prefix,
                  layout: parts.shards?.layout,
                  ttlMs: verp.maxAgeMs,
                },
                messageId,
                entries.map((e) => e.address),
              )
            ).length
          : entries.length;
      if (fresh === 0) return;
      await parts.reputation.count(tenant, 'hard', fresh);
      await parts.reputation.evaluate(tenant, tenantPolicy(parts.config, tenant));
      if (account) await parts.behaviour?.countFeedback(account, tenant, 'hard', fresh);
    },
  };
}
