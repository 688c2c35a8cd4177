/**
 * The one catalogue of intake refusals: every way Herald can refuse a submission (or one of its
 * recipients), with the SMTP reply the relay answers and the `HERALD_*` code `send()` throws.
 * A stage of the intake pipeline returns a `Refusal` built from a row of this table; front ends
 * only translate it (the relay into an SMTP reply, `send()` into a thrown HeraldError or a
 * `rejected` entry, the HTTP API into a response). Adding a refusal is a row here.
 */
import { HeraldError, type HeraldErrorCode } from '../errors/index.js';
import { SUPPRESSED_REPLY } from '../suppression/index.js';

interface RefusalRow {
  /** Basic SMTP status code. */
  code: number;
  /** Enhanced status code (RFC 3463). */
  enhanced: string;
  /** The SMTP reply text when no detail is added. */
  text: string;
  /** What `send()` throws when this refusal ends the submission. */
  error: HeraldErrorCode;
}

export const REFUSALS = {
  /** Who is sending: an SMTP client neither authenticated nor trusted, or an API caller with no valid tenant name. */
  noTenant: {
    code: 530,
    enhanced: '5.7.0',
    text: 'Authentication required',
    error: 'HERALD_SEND_BAD_TENANT',
  },
  badSender: {
    code: 553,
    enhanced: '5.1.7',
    text: 'Bad sender address syntax',
    error: 'HERALD_SEND_BAD_SENDER',
  },
  /** Postfix's reject_sender_login_mismatch answers the same way. */
  senderNotAllowed: {
    code: 553,
    enhanced: '5.7.1',
    text: 'Sender address rejected: domain not allowed for this account',
    error: 'HERALD_SEND_DOMAIN_NOT_ALLOWED',
  },
  badRecipient: {
    code: 553,
    enhanced: '5.1.3',
    text: 'Bad recipient address syntax',
    error: 'HERALD_SEND_RECIPIENT_REFUSED',
  },
  tooManyRecipients: {
    code: 452,
    enhanced: '4.5.3',
    text: 'Too many recipients',
    error: 'HERALD_SEND_RECIPIENT_REFUSED',
  },
  /** 550 5.7.1 (suppression/intake.ts: the same reply is the `suppressed` event's). */
  suppressed: { ...SUPPRESSED_REPLY, text: 'recipient suppressed', error: 'HERALD_SEND_RECIPIENT_REFUSED' },
  suppressionUnavailable: {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary local problem: suppression list unavailable, try again later',
    error: 'HERALD_REDIS_UNAVAILABLE',
  },
  tooBig: {
    code: 552,
    enhanced: '5.3.4',
    text: 'Message size exceeds fixed maximum message size',
    error: 'HERALD_SEND_TOO_BIG',
  },
  /** RFC 3463 5.6.0: other or undefined media error (NUL, bare CR in the header block). */
  badContent: { code: 550, enhanced: '5.6.0', text: 'Message refused', error: 'HERALD_SEND_BAD_CONTENT' },
  /** Invalid X-Herald-Stream / X-Herald-Campaign (or send()'s stream / campaign option). */
  badInstruction: {
    code: 554,
    enhanced: '5.6.0',
    text: 'invalid instruction',
    error: 'HERALD_SEND_BAD_INSTRUCTION',
  },
  /**
   * The From field is not one readable address list: more than one From field, or (for a tenant
   * with sender_domains or refuse_dmarc_fail) one Herald cannot read. Gmail answers 550 5.7.1.
   */
  badFrom: {
    code: 550,
    enhanced: '5.7.1',
    text: 'Message refused: invalid From header',
    error: 'HERALD_SEND_BAD_FROM',
  },
  fromNotAllowed: {
    code: 554,
    enhanced: '5.7.1',
    text: 'not allowed for this account',
    error: 'HERALD_SEND_DOMAIN_NOT_ALLOWED',
  },
  /** RFC 7372: 5.7.26 multiple authentication checks failed (what Gmail answers for DMARC). */
  dmarcWouldFail: {
    code: 550,
    enhanced: '5.7.26',
    text: 'DMARC would fail',
    error: 'HERALD_SEND_DMARC_FAIL',
  },
  /** The content scan's score reached the tenant's `reject` threshold (scanning.actions). */
  spam: {
    code: 550,
    enhanced: '5.7.1',
    text: 'Message rejected as spam',
    error: 'HERALD_SEND_SPAM',
  },
  /** The content scanner failed or did not answer in time and `scanning.fail` is `closed`. */
  scanUnavailable: {
    code: 451,
    enhanced: '4.7.1',
    text: 'Temporary local problem: content scanner unavailable, try again later',
    error: 'HERALD_SCAN_UNAVAILABLE',
  },
  /**
   * A flagged account (behaviour) whose held mail reached `behaviour.max_held_messages` or
   * `max_held_bytes`: nothing more is taken until an operator acts. Names no rule and no cap.
   */
  accountHeld: {
    code: 451,
    enhanced: '4.7.1',
    text: "Account's mail is on hold; try again later",
    error: 'HERALD_SEND_ACCOUNT_HELD',
  },
  /** Spooling failed or Redis did not acknowledge in time: the client keeps the message and retries. */
  queueUnavailable: {
    code: 451,
    enhanced: '4.3.0',
    text: 'Temporary local problem: queue unavailable, try again later',
    error: 'HERALD_REDIS_UNAVAILABLE',
  },
} as const satisfies Record<string, RefusalRow>;

export type RefusalKind = keyof typeof REFUSALS;

/** A stage's "no": the catalogue row it comes from, the exact reply, and why in words. */
export interface Refusal {
  kind: RefusalKind;
  code: number;
  enhanced: string;
  /** The SMTP reply text. */
  text: string;
  /** The specific cause, for logs and the API (send()'s error message, `rejected[].reason`). */
  reason: string;
  /** The error behind a local failure (Redis), for logs and metrics. */
  cause?: unknown;
}

/**
 * A refusal of `kind`; `text` defaults to the row's text and `reason` to `text`.
 */
export function refuse(
  kind: RefusalKind,
  detail: { text?: string; reason?: string; cause?: unknown } = {},
): Refusal {
  const row: RefusalRow = REFUSALS[kind];
  const text = detail.text ?? row.text;
  return {
    kind,
    code: row.code,
    enhanced: row.enhanced,
    text,
    reason: detail.reason ?? text,
    ...(detail.cause !== undefined ? { cause: detail.cause } : {}),
  };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'kind' in value && 'enhanced' in value;
}

/** What `send()` throws for a refusal: a HeraldError with the row's code that carries the refusal. */
export class IntakeRefusedError extends HeraldError {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    const row: RefusalRow = REFUSALS[refusal.kind];
    super(row.error, refusal.reason, refusal.cause !== undefined ? { cause: refusal.cause } : undefined);
    this.refusal = refusal;
  }
}
