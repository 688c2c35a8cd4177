/**
 * The submission listener's translator of the intake pipeline (`@herald/delivery-core/intake`):
 * one function per SMTP stage (auth, MAIL, RCPT, DATA), each running the intake stage it stands
 * for and answering undefined to pass or a PolicyReply — the Refusal's exact basic and enhanced
 * code and text. The decisions themselves (tenant, sender domains, recipient syntax and limits,
 * suppression, size, hygiene, instruction headers, From domains, DMARC) are intake's, shared with
 * `send()`; only AUTH (checking SMTP credentials) is the relay's. The stream defaults to the
 * user's `smtp.users[].stream`. The door's replies (@herald/smtp-listener) are listed here too.
 */
import { timingSafeEqual } from 'node:crypto';
import { type HeraldConfig, verifyPassword } from '@herald/delivery-core';
import { compileTrustedNetworks, DEFAULT_TENANT } from '@herald/delivery-core/config';
import {
  type IntakeStages,
  intakeStages,
  isRefusal,
  REFUSALS,
  type Refusal,
  type RefusalKind,
} from '@herald/delivery-core/intake';
import type { SuppressionEntry } from '@herald/delivery-core/suppression';
import { DOOR_REPLIES } from '@herald/smtp-listener';

export interface PolicyReply {
  code: number;
  enhanced: string;
  text: string;
}

export interface SessionFacts {
  remoteAddress: string;
  /** Set after a successful AUTH. */
  user?: { username: string; tenant: string } | undefined;
  secure: boolean;
  recipients: number;
}

/** A message as it is spooled: instruction headers removed, their values kept. */
export interface SubmittedMessage {
  body: Buffer;
  stream?: string | undefined;
  campaign?: string | undefined;
}

/** The SMTP reply of a Refusal. */
export function toReply(refusal: Refusal): PolicyReply {
  return { code: refusal.code, enhanced: refusal.enhanced, text: refusal.text };
}

const fromCatalogue = (kind: RefusalKind): PolicyReply => {
  const { code, enhanced, text } = REFUSALS[kind];
  return { code, enhanced, text };
};

export const REPLIES = {
  authRequired: fromCatalogue('noTenant'),
  authFailed: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  badSender: fromCatalogue('badSender'),
  badRecipient: fromCatalogue('badRecipient'),
  tooManyRecipients: fromCatalogue('tooManyRecipients'),
  tooBig: fromCatalogue('tooBig'),
  queueUnavailable: fromCatalogue('queueUnavailable'),
  senderNotAllowed: fromCatalogue('senderNotAllowed'),
  fromNotAllowed: fromCatalogue('fromNotAllowed'),
  dmarcWouldFail: fromCatalogue('dmarcWouldFail'),
  suppressionUnavailable: fromCatalogue('suppressionUnavailable'),
  badContent: fromCatalogue('badContent'),
  // The door's replies (@herald/smtp-listener door-guard.ts), authNeedsTls among them.
  ...DOOR_REPLIES,
} as const satisfies Record<string, PolicyReply>;

export interface SubmissionPolicy {
  onAuth(
    username: string,
    password: string,
    facts: SessionFacts,
  ): Promise<PolicyReply | { username: string; tenant: string }>;
  onMailFrom(address: string, facts: SessionFacts): PolicyReply | undefined;
  onRcptTo(address: string, facts: SessionFacts): PolicyReply | undefined;
  /**
   * A recipient that passed onRcptTo is on the tenant's suppression list: the refusal (mode
   * `refuse`, 550 5.7.1 with the reason) or `drop` (accept it, spool no job, emit `suppressed`).
   */
  onSuppressedRecipient(address: string, entry: SuppressionEntry, facts: SessionFacts): PolicyReply | 'drop';
  /** End of DATA: the message to spool, or the content stage's refusal. `from`: the envelope sender. */
  onData(raw: Buffer, facts: SessionFacts, from?: string): PolicyReply | SubmittedMessage;
  /** The tenant a session's mail is accounted to (`default` for a trusted client). */
  tenantOf(facts: SessionFacts): string;
}

const TRUSTED_TENANT = DEFAULT_TENANT;

/** `stages`: the intake's (herald.intake.stages, with its DKIM keys); default: built from `config`. */
export function createPolicy(
  config: HeraldConfig,
  stages: IntakeStages = intakeStages(config),
): SubmissionPolicy {
  const users = new Map(config.smtp.users.map((user) => [user.username, user]));
  const plaintextAuth = compileTrustedNetworks(config.smtp.plaintext_auth_networks);
  const tenant = (facts: SessionFacts) => stages.tenant({ via: 'smtp', ...facts });
  return {
    async onAuth(username, password, facts) {
      if (config.smtp.require_auth_tls && !facts.secure && !plaintextAuth(facts.remoteAddress))
        return REPLIES.authNeedsTls;
      const user = users.get(username);
      if (!user) return REPLIES.authFailed;
      const ok = user.password_hash
        ? await verifyPassword(password, user.password_hash)
        : safeEqual(password, user.password ?? '');
      return ok ? { username: user.username, tenant: user.tenant } : REPLIES.authFailed;
    },
    onMailFrom(address, facts) {
      const who = tenant(facts);
      const refusal = isRefusal(who) ? who : stages.sender(who, address);
      return refusal && toReply(refusal);
    },
    onRcptTo(address, facts) {
      const who = tenant(facts);
      const refusal = isRefusal(who) ? who : stages.recipient(address, facts.recipients);
      return refusal && toReply(refusal);
    },
    onSuppressedRecipient(address, entry, facts) {
      const decision = stages.suppressed(this.tenantOf(facts), address, entry);
      return decision === 'drop' ? 'drop' : toReply(decision);
    },
    onData(raw, facts, from = '') {
      const content = stages.content(this.tenantOf(facts), from, raw);
      if (isRefusal(content)) return toReply(content);
      const userStream = facts.user ? users.get(facts.user.username)?.stream : undefined;
      return { body: content.body, stream: content.stream ?? userStream, campaign: content.campaign };
    },
    tenantOf(facts) {
      const who = tenant(facts);
      return isRefusal(who) ? TRUSTED_TENANT : who;
    },
  };
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
