/**
 * Holding an accepted message in quarantine instead of spooling it: what the scan stage's
 * `quarantine` action and the behaviour stage (a flagged account) share. The record and its
 * `accepted`, `suppressed` (dropped recipients) and `quarantined` events go in one MULTI
 * (quarantine/store.ts; events queued into it by the sink), announced (logged, dispatched) once it
 * committed; the client is answered 250 as for a spooled message. A failed hold is the
 * `queueUnavailable` refusal (451 4.3.0). Needs injected: the quarantine store's `hold`, the event sink.
 */
import { hasDsn } from '../dsn/index.js';
import type { HeraldEvent, QuarantineEvent, RedisEventSink } from '../events/index.js';
import type { HeldMessage, QuarantineStore } from '../quarantine/index.js';
import { suppressedEvent } from '../suppression/index.js';
import { acceptedEventOf, trafficOf } from './accepted.js';
import type { EnqueueArgs } from './enqueue.js';
import { type Refusal, refuse } from './refusals.js';

export interface HoldParts {
  quarantine: Pick<QuarantineStore, 'hold'>;
  /** The held message's events are queued into the hold's MULTI, then announced. */
  events: Pick<RedisEventSink, 'queueInto' | 'announce'>;
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
  const events: HeraldEvent[] = [acceptedEventOf(args, heldAt)];
  for (const recipient of args.dropped ?? [])
    events.push(
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
  events.push(quarantined);
  try {
    // The record and its events in one transaction: a crash cannot leave one without the other.
    await parts.quarantine.hold(held, (multi) => parts.events.queueInto(multi, events));
  } catch (err) {
    return refuse('queueUnavailable', { cause: err });
  }
  for (const event of events) parts.events.announce(event);
  return 'held';
}
