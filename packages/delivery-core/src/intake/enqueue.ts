/**
 * The intake pipeline's I/O stages: the suppression screen of the recipients (one HMGET) and the
 * enqueue (a flagged account's mail held in quarantine, or refused 451 4.7.1 once its held mail
 * is at `behaviour.max_held_messages` / `max_held_bytes` (behaviour/, its cached flags), the
 * content scan, List-Unsubscribe for bulk streams, DKIM signing, then body + jobs + the accepted event
 * in one MULTI/EXEC). Both answer a Refusal instead of throwing when Redis fails or does not
 * answer within the caller's deadline, so every front end refuses alike (451 4.3.0). A configured
 * DKIM key that fails to sign is a local fault: nothing is spooled, never an unsigned message.
 * The enqueue is the `herald.enqueue` span, a child of the caller's accept span (`args.trace`),
 * whose traceparent is stored with the message (job data, accepted event) for its delivery attempts.
 * Needs injected: the config, the suppression list, the spool and event sink, the DKIM signer, the tracer.
 */
import type { DkimSigner } from '../auth/index.js';
import { type Behaviour, type BehaviourMark, heldBytesOf } from '../behaviour/index.js';
import { type HeraldConfig, tenantPolicy } from '../config/index.js';
import { withDeadline } from '../door/index.js';
import { hasDsn, type MessageDsn } from '../dsn/index.js';
import type { AcceptedEvent, RedisEventSink } from '../events/index.js';
import { toSevenBit } from '../message/index.js';
import type { ReleasedFrom, Spool, SpoolMessage } from '../queue/index.js';
import { addListUnsubscribe } from '../sender/index.js';
import { DEFAULT_STREAM } from '../shaping/index.js';
import {
  type SuppressedRecipient,
  type SuppressionEntry,
  type SuppressionList,
  suppressedEvent,
} from '../suppression/index.js';
import { type Context, endSpan, SPAN_NAMES, spanIn, type Tracer, traceparentOf } from '../telemetry/index.js';
import { acceptedEventOf, trafficOf } from './accepted.js';
import { type HoldParts, holdMessage } from './hold.js';
import { type Refusal, refuse } from './refusals.js';
import { type ScanStageParts, scanStage } from './scan-stage.js';
import type { IntakeStages } from './stages.js';

/** A checked, prepared message to spool (the relay's DATA, `send()`, DSNs). */
export interface EnqueueArgs {
  id: string;
  from: string;
  /** Recipients to deliver (one job per domain). */
  recipients: string[];
  body: Buffer;
  tenant: string;
  source: 'smtp' | 'api' | 'dsn';
  client?: string;
  /** Traffic stream and campaign, already valid names (see message/trafficName). */
  stream?: string | undefined;
  campaign?: string | undefined;
  /** Accepted but dropped by the suppression list (mode drop): no job, a suppressed event each. */
  dropped?: readonly SuppressedRecipient[] | undefined;
  /** An Idempotency-Key's answer, written in the enqueue MULTI (intake/idempotency.ts). */
  idempotency?: SpoolMessage['idempotency'];
  /** The accept span's context: the enqueue span's parent, its traceparent stored with the message. */
  trace?: Context | undefined;
  /** RFC 3461 parameters (SMTP NOTIFY / ORCPT / RET / ENVID, the API's `dsn`), already checked. */
  dsn?: MessageDsn | undefined;
  /** Submitted with SMTPUTF8 (RFC 6531). */
  smtputf8?: boolean | undefined;
  /** The client's HELO name and authenticated user, for the content scan (rspamd's Helo, User). */
  helo?: string | undefined;
  user?: string | undefined;
  /**
   * A message released from quarantine: not scanned again, no second accepted event; its held
   * record deleted and its claim ended in the enqueue transaction, so it is queued exactly when it
   * stops being held.
   */
  released?: ReleasedFrom | undefined;
  /** Behaviour's mark (set by the enqueue step when `behaviour` is on): counted with the message. */
  behaviour?: BehaviourMark | undefined;
}

/** The recipients after the suppression screen, in the order given. */
export interface ScreenedRecipients {
  deliver: string[];
  /** Mode `drop`: accepted, not spooled, a `suppressed` event each at enqueue. */
  dropped: SuppressedRecipient[];
  /** Mode `refuse`: each with its `suppressed` refusal. */
  refused: { address: string; refusal: Refusal }[];
}

/**
 * A bound on each Redis step (the suppression lookup; each piece of a large body and the
 * enqueue transaction); without it a step waits as long as Redis does.
 */
export interface StepOptions {
  deadlineMs?: number;
}

export interface IntakeIoParts {
  config: HeraldConfig;
  suppression: SuppressionList;
  spool: Spool;
  events: RedisEventSink;
  signer?: DkimSigner | undefined;
  stages: Pick<IntakeStages, 'suppressed'>;
  tracer: Tracer;
  /** The scan stage's parts (config `scanning`); absent: no scanning. */
  scan?: Omit<ScanStageParts, 'events'> | undefined;
  /** The behaviour stage (config `behaviour`): the detector; absent: off. */
  behaviour?: Behaviour | undefined;
  /** Where the behaviour stage holds a flagged account's mail (quarantine/). */
  quarantine?: HoldParts['quarantine'] | undefined;
}

const bounded = <T>(work: Promise<T>, options: StepOptions, what: string): Promise<T> =>
  options.deadlineMs === undefined ? work : withDeadline(work, options.deadlineMs, what);

export function intakeIo(parts: IntakeIoParts) {
  const { config, suppression, spool, events, signer, stages, tracer } = parts;
  /**
   * List-Unsubscribe (before signing, so it is signed), then DKIM, then the spool; each Redis step
   * of the spool (a piece of a large body, the transaction) within `options.deadlineMs`.
   */
  const spoolChecked = async (args: EnqueueArgs, options: StepOptions = {}): Promise<void> => {
    const unsubscribable = addListUnsubscribe(args.body, tenantPolicy(config, args.tenant).list_unsubscribe, {
      stream: args.stream ?? DEFAULT_STREAM,
      recipients: args.recipients,
      messageId: args.id,
    });
    const body = signer ? signSevenBit(signer, unsubscribable, args.tenant) : unsubscribable;
    await spoolPrepared(spool, events, { ...args, body }, options);
  };
  const tracedSpool = async (args: EnqueueArgs, options: StepOptions = {}): Promise<void> => {
    const span = tracer.startSpan(
      SPAN_NAMES.enqueue,
      { attributes: { 'herald.message_id': args.id, 'herald.recipients': args.recipients.length } },
      args.trace,
    );
    try {
      await spoolChecked(args, options);
    } catch (err) {
      endSpan(span, err instanceof Error ? err.message : String(err));
      throw err;
    }
    endSpan(span);
  };
  return {
    /** The enqueue for Herald's own mail (DSNs): throws instead of refusing. */
    spoolChecked: tracedSpool,
    async screen(
      tenant: string,
      addresses: readonly string[],
      options: StepOptions = {},
    ): Promise<ScreenedRecipients | Refusal> {
      let found: Map<string, SuppressionEntry>;
      try {
        found = await bounded(suppression.check(tenant, addresses), options, 'suppression lookup');
      } catch (err) {
        return refuse('suppressionUnavailable', { cause: err });
      }
      const screened: ScreenedRecipients = { deliver: [], dropped: [], refused: [] };
      for (const address of addresses) {
        const entry = found.get(address);
        if (!entry) {
          screened.deliver.push(address);
          continue;
        }
        const decision = stages.suppressed(tenant, address, entry);
        if (decision === 'drop') screened.dropped.push({ address, entry });
        else screened.refused.push({ address, refusal: decision });
      }
      return screened;
    },
    async enqueue(args: EnqueueArgs, options: StepOptions = {}): Promise<Refusal | undefined> {
      const { behaviour, quarantine } = parts;
      if (behaviour && quarantine && !args.released && args.source !== 'dsn' && args.recipients.length > 0) {
        // The behaviour stage: a flagged account's mail is held, or refused once its held mail is
        // at a cap (no Redis read: the cached flags and held counts).
        const account = behaviour.accountOf(args);
        const decision = behaviour.decide(account);
        if (decision.action === 'refuse') return refuse('accountHeld');
        if (decision.action === 'hold') {
          const held = await holdMessage({ quarantine, events }, args, {
            reason: `behaviour:${decision.flag.rule}`,
            account,
          });
          if (held !== 'held') return held;
          // After the hold committed: the counts are not in the message's shard slot (Cluster).
          await behaviour.countHeld(account, heldBytesOf(args));
          return undefined;
        }
        args = { ...args, behaviour: behaviour.mark(account, args.tenant) };
      }
      if (parts.scan && !args.released && args.source !== 'dsn' && args.recipients.length > 0) {
        const scanned = await scanStage({ ...parts.scan, events }, args);
        if (scanned === 'held') return undefined;
        if ('kind' in scanned) return scanned;
        args = { ...args, body: scanned.spool };
      }
      try {
        // The deadline bounds each Redis step, not the whole: a 50 MB body is many steps.
        await tracedSpool(args, options);
        return undefined;
      } catch (err) {
        return refuse('queueUnavailable', { cause: err });
      }
    },
  };
}

/**
 * DKIM over the 7-bit form of an 8-bit message (RFC 6376 §5.3: convert before signing), so a
 * next hop without 8BITMIME gets the message as signed and no later conversion breaks the
 * signature. A message no key signs stays as submitted (8-bit); one that cannot be made 7-bit
 * (8-bit headers: SMTPUTF8 mail) is signed as it is.
 */
function signSevenBit(signer: DkimSigner, message: Buffer, tenant: string): Buffer {
  const seven = toSevenBit(message);
  if (!seven || seven === message) return signer.sign(message, tenant);
  const signed = signer.sign(seven, tenant);
  return signed === seven ? message : signed;
}

/**
 * Spools a prepared message with its accepted event in the same transaction, then announces it.
 * Dropped recipients are in the accepted event and get their terminal `suppressed` event instead
 * of a job; when every recipient is dropped nothing is spooled, only those events are written.
 * A message released from quarantine is spooled without an accepted event: that was written
 * when it was held.
 */
export async function spoolPrepared(
  spool: Spool,
  events: RedisEventSink,
  args: EnqueueArgs,
  options: StepOptions = {},
): Promise<void> {
  const acceptedAt = Date.now();
  const step = { stepDeadlineMs: options.deadlineMs };
  if (args.released) {
    const released = { ...spoolMessageOf(args, acceptedAt), releasedFrom: args.released };
    await spool.enqueue(released, step);
    return;
  }
  const event = acceptedEventOf(args, acceptedAt);
  if (args.recipients.length > 0) {
    // The accepted record is written in the same transaction as the message: no accepted
    // message without its event, even if the process dies right after the 250. It is announced
    // (log line, listeners) once written, also when the caller's deadline passed meanwhile: the
    // message is in the queue and will be delivered all the same.
    await spool.enqueue(spoolMessageOf(args, acceptedAt, event), {
      ...step,
      onWritten: () => events.announce(event),
    });
  } else events.emit(event);
  const traffic = trafficOf(args);
  for (const recipient of args.dropped ?? [])
    events.emit(
      suppressedEvent({ messageId: args.id, tenant: args.tenant, time: acceptedAt, recipient, ...traffic }),
    );
}

/**
 * The spooled form of a prepared message. With its accepted event (a fresh intake) it carries
 * the event, its recipient count and the Idempotency-Key's answer; without (a release from
 * quarantine) it carries neither.
 */
function spoolMessageOf(args: EnqueueArgs, acceptedAt: number, accepted?: AcceptedEvent): SpoolMessage {
  const traceparent = traceparentOf(spanIn(args.trace));
  return {
    id: args.id,
    tenant: args.tenant,
    from: args.from,
    recipients: args.recipients,
    body: args.body,
    acceptedAt,
    ...trafficOf(args),
    ...(accepted ? { acceptedEvent: JSON.stringify(accepted) } : {}),
    ...(traceparent ? { traceparent } : {}),
    ...(accepted ? { acceptedRecipients: accepted.recipients.length } : {}),
    ...(accepted && args.idempotency ? { idempotency: args.idempotency } : {}),
    ...(args.behaviour ? { behaviour: args.behaviour } : {}),
    ...(hasDsn(args.dsn) ? { dsn: args.dsn } : {}),
    ...(args.smtputf8 ? { smtputf8: true } : {}),
    ...(args.source === 'dsn' ? { ownDsn: true as const } : {}),
  };
}
