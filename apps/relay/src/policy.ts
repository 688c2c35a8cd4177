/**
 * Submission policy, one function per SMTP stage (connect, auth, MAIL, RCPT, DATA). Each returns
 * undefined to pass or a PolicyReply to refuse with the exact basic and enhanced code. Pure logic
 * over the frozen config: no I/O here except password verification. At DATA the instruction
 * headers (X-Herald-Stream, X-Herald-Campaign) are taken out of the message; the stream defaults
 * to the user's `smtp.users[].stream`. A recipient on the tenant's suppression list (looked up by
 * the caller after onRcptTo passed) is refused with 550 5.7.1 or dropped, per `tenants.<name>.suppression`.
 * With `tenants.<name>.sender_domains`, MAIL FROM and the From header must use one of them
 * (553 5.7.1 at MAIL, 554 5.7.1 at the end of DATA). At DATA a message with NUL or a bare CR in
 * its header block, or NUL in its body, is refused 550 5.6.0 (message/hygiene.ts); a bare CR in
 * the body is normalised to CRLF. The door's replies (@herald/smtp-listener) are listed here too.
 */
import { timingSafeEqual } from 'node:crypto';
import { checkAddress, type HeraldConfig, verifyPassword } from '@herald/delivery-core';
import { compileTrustedNetworks, DEFAULT_TENANT, tenantPolicy } from '@herald/delivery-core/config';
import { cleanIntake, takeInstructions } from '@herald/delivery-core/message';
import { domainOfAddress, fromHeaderDomain, senderDomainAllowed } from '@herald/delivery-core/sender';
import { type SuppressionEntry, suppressionReply } from '@herald/delivery-core/suppression';
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

/** Refusal of a message whose instruction headers are invalid (RFC 3463 5.6.x: content). */
const INVALID_INSTRUCTION = { code: 554, enhanced: '5.6.0' } as const;

export const REPLIES = {
  authRequired: { code: 530, enhanced: '5.7.0', text: 'Authentication required' },
  authFailed: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  badSender: { code: 553, enhanced: '5.1.7', text: 'Bad sender address syntax' },
  badRecipient: { code: 553, enhanced: '5.1.3', text: 'Bad recipient address syntax' },
  tooManyRecipients: { code: 452, enhanced: '4.5.3', text: 'Too many recipients' },
  tooBig: { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed maximum message size' },
  queueUnavailable: {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary local problem: queue unavailable, try again later',
  },
  /** Postfix's reject_sender_login_mismatch answers the same way. */
  senderNotAllowed: {
    code: 553,
    enhanced: '5.7.1',
    text: 'Sender address rejected: domain not allowed for this account',
  },
  fromNotAllowed: { code: 554, enhanced: '5.7.1', text: 'not allowed for this account' },
  /** RFC 7372: 5.7.26 multiple authentication checks failed (what Gmail answers for DMARC). */
  dmarcWouldFail: { code: 550, enhanced: '5.7.26', text: 'DMARC would fail' },
  suppressionUnavailable: {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary local problem: suppression list unavailable, try again later',
  },
  /** RFC 3463 5.6.0: other or undefined media error (NUL, bare CR in the header block). */
  badContent: { code: 550, enhanced: '5.6.0', text: 'Message refused' },
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
  /** End of DATA: the message to spool, or a refusal of its instruction headers. */
  onData(raw: Buffer, facts: SessionFacts): PolicyReply | SubmittedMessage;
  /** The tenant a session's mail is accounted to. */
  tenantOf(facts: SessionFacts): string;
}

const TRUSTED_TENANT = DEFAULT_TENANT;

export function createPolicy(config: HeraldConfig): SubmissionPolicy {
  const trusted = compileTrustedNetworks(config.smtp.trusted_networks);
  const plaintextAuth = compileTrustedNetworks(config.smtp.plaintext_auth_networks);
  const users = new Map(config.smtp.users.map((user) => [user.username, user]));
  const mayRelay = (facts: SessionFacts) => Boolean(facts.user) || trusted(facts.remoteAddress);
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
      if (!mayRelay(facts)) return REPLIES.authRequired;
      if (address !== '' && checkAddress(address)) return REPLIES.badSender;
      const allowed = tenantPolicy(config, this.tenantOf(facts)).sender_domains;
      if (address !== '' && !senderDomainAllowed(allowed, domainOfAddress(address)))
        return { ...REPLIES.senderNotAllowed, text: `<${address}>: ${REPLIES.senderNotAllowed.text}` };
      return undefined;
    },
    onRcptTo(address, facts) {
      if (!mayRelay(facts)) return REPLIES.authRequired;
      if (checkAddress(address)) return REPLIES.badRecipient;
      if (facts.recipients >= config.smtp.max_recipients) return REPLIES.tooManyRecipients;
      return undefined;
    },
    onSuppressedRecipient(address, entry, facts) {
      const mode = tenantPolicy(config, this.tenantOf(facts)).suppression;
      return mode === 'drop' ? 'drop' : suppressionReply(address, entry);
    },
    onData(raw, facts) {
      const clean = cleanIntake(raw);
      if (!clean.ok) return { ...REPLIES.badContent, text: `${REPLIES.badContent.text}: ${clean.problem}` };
      const taken = takeInstructions(clean.body);
      if (!taken.ok) return { ...INVALID_INSTRUCTION, text: taken.problem };
      const allowed = tenantPolicy(config, this.tenantOf(facts)).sender_domains;
      const fromDomain = allowed.length > 0 ? fromHeaderDomain(taken.body) : undefined;
      if (allowed.length > 0 && !senderDomainAllowed(allowed, fromDomain))
        return {
          ...REPLIES.fromNotAllowed,
          text: `From domain ${fromDomain ?? '(none)'}: ${REPLIES.fromNotAllowed.text}`,
        };
      const userStream = facts.user ? users.get(facts.user.username)?.stream : undefined;
      return { body: taken.body, stream: taken.stream ?? userStream, campaign: taken.campaign };
    },
    tenantOf(facts) {
      return facts.user?.tenant ?? TRUSTED_TENANT;
    },
  };
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
