/**
 * The intake pipeline's pure stages, in the order a submission meets them: who is sending and as
 * which tenant → the envelope sender → each recipient (syntax, limits, what a suppression entry
 * means for the tenant; the lookup itself is enqueue.ts) → the content (size, hygiene, instruction headers, From-header sender domains, the
 * DMARC pre-check). Each returns its value or a Refusal from the catalogue (refusals.ts); nothing
 * here does I/O. Needs: the frozen config and, for the DMARC pre-check, the DKIM key store.
 */

import { checkAddress, readAuthors } from '../address/index.js';
import type { DkimKeyStore } from '../auth/index.js';
import {
  compileTrustedNetworks,
  DEFAULT_TENANT,
  type HeraldConfig,
  isTenantName,
  tenantPolicy,
} from '../config/index.js';
import { cleanIntake, findHeaders, takeInstructions } from '../message/index.js';
import {
  dmarcProblem,
  domainOfAddress,
  fromHeaderAuthors,
  fromHeaderDomain,
  senderDomainAllowed,
} from '../sender/index.js';
import { type SuppressionEntry, suppressionReply } from '../suppression/index.js';
import { REFUSALS, type Refusal, refuse } from './refusals.js';

/** Who submits: an SMTP session (its AUTH user, if any, and address) or an API caller naming a tenant. */
export type Submitter =
  | { via: 'smtp'; remoteAddress: string; user?: { tenant: string } | undefined }
  | { via: 'api'; tenant?: string | undefined };

/** A message after the content stage: instruction headers taken out, their values kept. */
export interface CheckedContent {
  body: Buffer;
  stream?: string | undefined;
  campaign?: string | undefined;
}

export interface IntakeStages {
  /**
   * Stage 1: the tenant the submission is accounted to, or `noTenant`: an SMTP client neither
   * authenticated nor trusted, or an API caller naming no possible tenant. Tenants are an open
   * set (a name the config does not list gets the default policy), so a valid name is taken.
   */
  tenant(submitter: Submitter): string | Refusal;
  /** Stage 2: envelope sender syntax and the tenant's `sender_domains` ('' is the null sender). */
  sender(tenant: string, from: string): Refusal | undefined;
  /** Stage 3: one recipient's syntax, and the limit (`smtp.max_recipients`) given how many came before. */
  recipient(address: string, before: number): Refusal | undefined;
  /** Stage 3b: a recipient found on the tenant's suppression list: refused (mode `refuse`) or `drop`. */
  suppressed(tenant: string, address: string, entry: SuppressionEntry): Refusal | 'drop';
  /** Stage 4a: the message size against `smtp.max_message_size`. */
  size(bytes: number): Refusal | undefined;
  /**
   * Stage 4b: hygiene (NUL, bare CR), instruction headers, the From header's sender domains and,
   * for tenants with `refuse_dmarc_fail`, the DMARC pre-check.
   */
  content(tenant: string, from: string, raw: Buffer): CheckedContent | Refusal;
  /** Why DMARC would fail for this message on Herald's path, or undefined (see sender/dmarc.ts). */
  dmarcProblem(message: { tenant: string; from: string; body: Buffer }): string | undefined;
}

export function intakeStages(config: HeraldConfig, dkimStore?: DkimKeyStore): IntakeStages {
  const trusted = compileTrustedNetworks(config.smtp.trusted_networks);
  const dmarc: IntakeStages['dmarcProblem'] = (message) => {
    const authors = fromHeaderAuthors(message.body);
    // RFC 7489 §6.6.1: authors of several domains cannot all be aligned; DMARC receivers reject.
    if (authors.ok && authors.domains.length > 1)
      return `DMARC would fail: From names authors of ${authors.domains.length} domains (${authors.domains.join(', ')})`;
    const fromDomain = fromHeaderDomain(message.body);
    const keys = dkimStore ? dkimStore.select({ fromDomain, tenant: message.tenant, now: Date.now() }) : [];
    const returnPathDomain =
      message.from === '' ? undefined : config.bounce ? config.bounce.domain : domainOfAddress(message.from);
    return dmarcProblem({ fromDomain, returnPathDomain, dkimDomains: keys.map((k) => k.domain) });
  };
  return {
    tenant(submitter) {
      if (submitter.via === 'smtp') {
        if (submitter.user) return submitter.user.tenant;
        return trusted(submitter.remoteAddress) ? DEFAULT_TENANT : refuse('noTenant');
      }
      const tenant = submitter.tenant ?? DEFAULT_TENANT;
      if (isTenantName(tenant)) return tenant;
      return refuse('noTenant', {
        reason: `invalid tenant ${JSON.stringify(tenant)}: expected letters, digits, _ . - (starting with a letter or digit)`,
      });
    },
    sender(tenant, from) {
      if (from === '') return undefined;
      const problem = checkAddress(from);
      if (problem) return refuse('badSender', { reason: `invalid sender address: ${JSON.stringify(from)}` });
      const allowed = tenantPolicy(config, tenant).sender_domains;
      if (senderDomainAllowed(allowed, domainOfAddress(from))) return undefined;
      return refuse('senderNotAllowed', {
        text: `<${from}>: ${REFUSALS.senderNotAllowed.text}`,
        reason: `sender ${from}: domain not allowed for tenant ${tenant}`,
      });
    },
    recipient(address, before) {
      const problem = checkAddress(address);
      if (problem) return refuse('badRecipient', { reason: problem });
      if (before >= config.smtp.max_recipients) return refuse('tooManyRecipients');
      return undefined;
    },
    suppressed(tenant, address, entry) {
      if (tenantPolicy(config, tenant).suppression === 'drop') return 'drop';
      return refuse('suppressed', { text: suppressionReply(address, entry).text });
    },
    size(bytes) {
      if (bytes <= config.smtp.max_message_size) return undefined;
      return refuse('tooBig', {
        reason: `message of ${bytes} bytes exceeds smtp.max_message_size (${config.smtp.max_message_size} bytes)`,
      });
    },
    content(tenant, from, raw) {
      const clean = cleanIntake(raw);
      if (!clean.ok)
        return refuse('badContent', {
          text: `${REFUSALS.badContent.text}: ${clean.problem}`,
          reason: clean.problem,
        });
      // A bare CR made CRLF adds a byte: the message as it will be sent stays within the limit.
      if (clean.body.length > config.smtp.max_message_size)
        return refuse('tooBig', {
          reason: `message of ${clean.body.length} bytes once its bare CRs are CRLF exceeds smtp.max_message_size (${config.smtp.max_message_size} bytes)`,
        });
      const taken = takeInstructions(clean.body);
      if (!taken.ok) return refuse('badInstruction', { text: taken.problem });
      const policy = tenantPolicy(config, tenant);
      const fromRefusal = authorRefusal(findHeaders(taken.body, 'from'), tenant, policy);
      if (fromRefusal) return fromRefusal;
      if (policy.refuse_dmarc_fail) {
        const problem = dmarc({ tenant, from, body: taken.body });
        if (problem) return refuse('dmarcWouldFail', { text: problem });
      }
      return { body: taken.body, stream: taken.stream, campaign: taken.campaign };
    },
    dmarcProblem: dmarc,
  };
}

/**
 * The From field(s) against the tenant's policy: more than one From field is always refused
 * (RFC 5322 §3.6, RFC 7489 §6.6.1); a missing or unreadable one when the tenant restricts
 * `sender_domains` or has `refuse_dmarc_fail`; and every author domain must be allowed.
 */
function authorRefusal(
  fromValues: readonly string[],
  tenant: string,
  policy: { sender_domains: readonly string[]; refuse_dmarc_fail: boolean },
): Refusal | undefined {
  const checked = policy.sender_domains.length > 0 || policy.refuse_dmarc_fail;
  // Unchecked, only a second From field is refused: one (or none) needs no reading.
  if (!checked && fromValues.length <= 1) return undefined;
  const authors = readAuthors(fromValues);
  if (!authors.ok) {
    if (authors.fields > 1 || (checked && authors.fields === 1))
      return refuse('badFrom', {
        text: `${REFUSALS.badFrom.text}: ${authors.problem}`,
        reason: authors.problem,
      });
    if (policy.sender_domains.length > 0)
      return refuse('fromNotAllowed', {
        text: `From domain (none): ${REFUSALS.fromNotAllowed.text}`,
        reason: `From domain (none): not allowed for tenant ${tenant}`,
      });
    return undefined;
  }
  const denied = authors.domains.find((domain) => !senderDomainAllowed(policy.sender_domains, domain));
  if (denied === undefined) return undefined;
  return refuse('fromNotAllowed', {
    text: `From domain ${denied}: ${REFUSALS.fromNotAllowed.text}`,
    reason: `From domain ${denied}: not allowed for tenant ${tenant}`,
  });
}
