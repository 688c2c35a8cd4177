/**
 * Holding an accepted message in quarantine instead of spooling it: what the scan stage's
 * `quarantine` action and the behaviour stage (a flagged account) share. The record goes in one
 * MULTI (quarantine/store.ts), then the `accepted`, `suppressed` (dropped recipients) and
 * `quarantined` events; the client is answered 250 as for a spooled message. A failed hold is the
 * `queueUnavailable` refusal (451 4.3.0). Needs injected: the quarantine store's `hold`, the event sink.
 */
import { hasDsn } from '../dsn/index.js';
import type { EventSink, QuarantineEvent } from '../events/index.js';
import type { HeldMessage } from '../quarantine/index.js';
import { suppressedEvent } from '../suppression/index.js';
import { acceptedEventOf, trafficOf } from './accepted.js';
import type { EnqueueArgs } from './enqueue.js';
import { type Refusal, refuse } from './refusals.js';

export interface HoldParts {
  quarantine: { hold(message: HeldMessage): Promise<void> };
  events: EventSink;
}

/** Why a message is held: `spam` with the scan's score and symbols, or `behaviour:<rule>`. */
export interface HoldReason {
  reason: string;
  score?: number | undefined;
  symbols?: string[] | undefined;
  /** The account a behaviour rule flagged. */
  account?: string | undefined;
}

export async function holdMessage(
  parts: HoldParts,
  args: EnqueueArgs,
  why: HoldReason,
): Promise<'held' | Refusal> {
  const heldAt = Date.now();
  const held: HeldMessage = {
    id: args.id,
    tenant: args.tenant,
    from: args.from,
    recipients: args.recipients,
    body: args.body,
    reason: why.reason,
    ...(why.score !== undefined ? { score: why.score } : {}),
    ...(why.symbols ? { symbols: why.symbols } : {}),
    ...(why.account ? { account: why.account } : {}),
    heldAt,
    source: args.source === 'api' ? 'api' : 'smtp',
    client: args.client,
    stream: args.stream,
    campaign: args.campaign,
    ...(hasDsn(args.dsn) ? { dsn: args.dsn } : {}),
    ...(args.smtputf8 ? { smtputf8: true } : {}),
  };
  try {
    await parts.quarantine.hold(held);
  } catch (err) {
    return refuse('queueUnavailable', { cause: err });
  }
  parts.events.emit(acceptedEventOf(args, heldAt));
  for (const recipient of args.dropped ?? [])
    parts.events.emit(
      suppressedEvent({
        messageId: args.id,
        tenant: args.tenant,
        time: heldAt,
        recipient,
        ...trafficOf(args),
      }),
    );
  const quarantined: QuarantineEvent = {
    type: 'quarantined',
    time: heldAt,
    messageId: args.id,
    tenant: args.tenant,
    reason: why.reason,
    ...(why.score !== undefined ? { score: why.score } : {}),
    ...(why.symbols ? { symbols: why.symbols } : {}),
    ...(why.account ? { account: why.account } : {}),
    recipients: args.recipients,
  };
  parts.events.emit(quarantined);
  return 'held';
}
