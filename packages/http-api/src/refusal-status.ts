/**
 * The HTTP status of each intake refusal: the API is one more translator of the intake
 * catalogue (delivery-core intake/refusals.ts), never a second policy. One row per refusal kind;
 * the type makes a new kind in the catalogue fail to compile until it has its row here.
 */
import type { RefusalKind } from '@herald/delivery-core';

export const REFUSAL_STATUS = {
  /** No valid tenant name (an admin key naming an impossible tenant). */
  noTenant: 400,
  badSender: 400,
  senderNotAllowed: 403,
  /** Recipient refusals end a request only when every recipient is refused (then 422). */
  badRecipient: 422,
  tooManyRecipients: 422,
  suppressed: 422,
  suppressionUnavailable: 503,
  tooBig: 413,
  badContent: 400,
  badInstruction: 400,
  badFrom: 400,
  fromNotAllowed: 403,
  dmarcWouldFail: 403,
  queueUnavailable: 503,
  /** The content scan's reject threshold: the request is understood and refused for its content. */
  spam: 422,
  /** The scanner is down and scanning.fail is closed: try again later. */
  scanUnavailable: 503,
  /** A flagged account's held mail is at a cap: try again later (503 with Retry-After, as the others). */
  accountHeld: 503,
} as const satisfies Record<RefusalKind, number>;

export function refusalStatus(kind: RefusalKind): number {
  return REFUSAL_STATUS[kind];
}
