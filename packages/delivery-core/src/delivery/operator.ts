/**
 * An operator's decision applied to one job (`herald queue delete` / `bounce`, queue-ops): every
 * recipient still pending ends `bounced` with the operator's reply — `550 5.0.0 deleted by
 * operator`, or `550 5.0.0 bounced by operator[: <reason>]` — and an event carrying `operator`;
 * recipients already delivered, bounced or expired stay as they are (exactly one terminal state).
 * The failures carry `operator`, so the follow-up (follow-up.ts) sends a DSN for a bounce only
 * and suppresses and counts nothing; `operatorFailures` names them without ending anything (the
 * report lines a bounce records with its job's finish). Pure apart from the injected event sink
 * and clock.
 */
import type { SmtpReply } from '../errors/index.js';
import type { DeliveryJobData, OperatorMark } from '../queue/index.js';
import { recipientEmitter } from './settle.js';
import type { DeliveryDeps, DeliveryOutcome, RecipientFailure } from './types.js';

const OPERATOR_CODE = 550;
const OPERATOR_ENHANCED = '5.0.0';

/** The reply an operator's delete or bounce gives each pending recipient. */
export function operatorReply(mark: OperatorMark): SmtpReply {
  const text =
    mark.action === 'delete'
      ? 'deleted by operator'
      : `bounced by operator${mark.reason ? `: ${mark.reason}` : ''}`;
  return { code: OPERATOR_CODE, enhanced: OPERATOR_ENHANCED, text, stage: 'queue' };
}

/** The failures the mark makes of the job's pending recipients, nothing emitted or changed. */
export function operatorFailures(data: DeliveryJobData, mark: OperatorMark): RecipientFailure[] {
  const reply = operatorReply(mark);
  return data.recipients
    .filter((r) => r.state === 'pending')
    .map((r) => ({
      address: r.address,
      type: 'bounced' as const,
      reply: { ...reply },
      operator: mark.action,
    }));
}

/**
 * Ends the job's pending recipients as the mark says (events emitted); the outcome is `done`,
 * with the failures for the follow-up. Works on a copy of `input`.
 */
export function applyOperatorMark(
  input: DeliveryJobData,
  mark: OperatorMark,
  deps: Pick<DeliveryDeps, 'events' | 'now'>,
): DeliveryOutcome & { failures: RecipientFailure[] } {
  const data: DeliveryJobData = { ...input, recipients: input.recipients.map((r) => ({ ...r })) };
  const failures: RecipientFailure[] = [];
  const emit = recipientEmitter(data, deps, failures);
  const reply = operatorReply(mark);
  for (const recipient of data.recipients)
    if (recipient.state === 'pending') emit(recipient, 'bounced', { ...reply }, { operator: mark.action });
  return { kind: 'done', data, failures };
}
