/**
 * Intake: how a message gets into Herald, one pipeline for every front end. Named stages, in
 * order: who is sending and as which tenant → the envelope sender (syntax, `sender_domains`) →
 * each recipient (syntax, `smtp.max_recipients`, the tenant's suppression list) → the content
 * (`smtp.max_message_size`, hygiene, instruction headers, From-header sender domains, the DMARC
 * pre-check) → the behaviour stage when `behaviour` is configured (a flagged account's mail held in
 * quarantine, hold.ts; every other message marked with its account, counted at enqueue) → the content scan when `scanning` is configured (scan-stage.ts: rspamd; add headers,
 * hold in quarantine, or refuse) → enqueue (List-Unsubscribe, DKIM, one MULTI/EXEC). Each stage returns its value or
 * a `Refusal` from one catalogue (refusals.ts). Front ends only translate a Refusal: the relay
 * into an SMTP reply, `send()` (send.ts) into a `rejected` entry or a thrown IntakeRefusedError.
 * Needs injected: the frozen config, the suppression list, spool, event sink and DKIM keys.
 */
import type { DkimKeyStore, DkimSigner } from '../auth/index.js';
import type { HeraldConfig } from '../config/index.js';
import type { RedisEventSink } from '../events/index.js';
import { type Spool, scopeShard } from '../queue/index.js';
import type { SuppressionList } from '../suppression/index.js';
import { endSpan, SPAN_NAMES, type Tracer, withSpan } from '../telemetry/index.js';
import { type EnqueueArgs, type IntakeIoParts, intakeIo } from './enqueue.js';
import type { ScanStageParts } from './scan-stage.js';
import { type IntakeSteps, type SendInput, type SendResult, sendMessage } from './send.js';
import { intakeStages } from './stages.js';

export type { EnqueueArgs, ScreenedRecipients, StepOptions } from './enqueue.js';
export {
  IDEMPOTENCY_LEASE_MS,
  type IdempotencyClaim,
  IdempotencyStore,
  type IdempotencyWrite,
  idempotencyScope,
} from './idempotency.js';
export {
  IntakeRefusedError,
  isRefusal,
  REFUSALS,
  type Refusal,
  type RefusalKind,
  refuse,
} from './refusals.js';
export type { ScanStageParts, ScanStageResult } from './scan-stage.js';
export type { IntakeSteps, SendInput, SendResult } from './send.js';
export {
  type CheckedContent,
  type IntakeStages,
  intakeStages,
  type Submitter,
} from './stages.js';

export interface Intake extends IntakeSteps {
  /** The library's front end: the whole pipeline for one message (see send.ts). */
  send(input: SendInput): Promise<SendResult>;
}

export interface IntakeParts {
  config: HeraldConfig;
  suppression: SuppressionList;
  spool: Spool;
  events: RedisEventSink;
  dkim?: { store: DkimKeyStore; signer: DkimSigner } | undefined;
  /** Spans `herald.accept` (send) and `herald.enqueue`; the no-op tracer when telemetry is off. */
  tracer: Tracer;
  /** The scan stage (config `scanning`): the scanner and where held messages go; absent: off. */
  scan?: Omit<ScanStageParts, 'events'> | undefined;
  /** The behaviour stage (config `behaviour`): the detector and where flagged accounts' mail is held. */
  behaviour?: IntakeIoParts['behaviour'];
  quarantine?: IntakeIoParts['quarantine'];
}

/** The intake capability, and the throwing spool step Herald's own mail (DSNs) goes through. */
export function createIntake(parts: IntakeParts): {
  intake: Intake;
  spoolOwn(args: EnqueueArgs): Promise<void>;
} {
  const stages = intakeStages(parts.config, parts.dkim?.store);
  const io = intakeIo({ ...parts, signer: parts.dkim?.signer, stages });
  const { spool } = parts;
  const newMessageId = (scope?: string) =>
    spool.newMessageId(scope === undefined ? undefined : scopeShard(scope, spool.layout.count));
  const intake: Intake = {
    stages,
    screen: io.screen,
    enqueue: io.enqueue,
    newMessageId,
    async send(input) {
      // send()'s whole pipeline is the accept span (a child of the caller's, e.g. http.send).
      const span = parts.tracer.startSpan(
        SPAN_NAMES.accept,
        { attributes: { 'herald.source': 'api' } },
        input.trace,
      );
      const trace = withSpan(span);
      try {
        const result = await sendMessage(
          {
            stages,
            hostname: parts.config.smtp.hostname,
            screen: io.screen,
            enqueue: (args, options) => io.enqueue({ ...args, trace }, options),
            newMessageId,
          },
          input,
        );
        span.setAttributes({
          'herald.message_id': result.messageId,
          'herald.recipients': result.accepted.length,
        });
        endSpan(span);
        return result;
      } catch (err) {
        endSpan(span, err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
  };
  return { intake, spoolOwn: io.spoolChecked };
}
