/**
 * Intake's scan stage (config `scanning`), run by the enqueue step just before spooling, for every
 * front end alike (the relay's DATA, `send()`; never Herald's own DSNs or a released message): the
 * message goes to rspamd (scan/) and the tenant's action by score decides — accept; add `X-Spam*`
 * headers (before DKIM, so they are signed); hold in quarantine (accepted and not queued: the
 * record and its `accepted`, `suppressed` (dropped recipients) and `quarantined` events in one
 * MULTI, announced once it committed); or the `spam` refusal (550 5.7.1). A failed scan is accepted (`fail: open`) or the
 * `scanUnavailable` refusal (451 4.7.1, `fail: closed`).
 * Needs injected: the scanner, the quarantine store's `hold`, the event sink.
 */
import { hasDsn } from '../dsn/index.js';
import type { HeraldEvent, QuarantineEvent, RedisEventSink } from '../events/index.js';
import type { HeldMessage, QuarantineStore } from '../quarantine/index.js';
import { formatScore, type Scanner, spamHeaders } from '../scan/index.js';
import { suppressedEvent } from '../suppression/index.js';
import { acceptedEventOf, trafficOf } from './accepted.js';
import type { EnqueueArgs } from './enqueue.js';
import { type Refusal, refuse } from './refusals.js';

export interface ScanStageParts {
  scanner: Scanner;
  quarantine: Pick<QuarantineStore, 'hold'>;
  /** The held message's events are queued into the hold's MULTI, then announced (logged, dispatched). */
  events: Pick<RedisEventSink, 'queueInto' | 'announce'>;
}

/** `spool`: go on with this body; `held`: in quarantine, accepted; or the refusal. */
export type ScanStageResult = { spool: Buffer } | 'held' | Refusal;

export async function scanStage(parts: ScanStageParts, args: EnqueueArgs): Promise<ScanStageResult> {
  const outcome = await parts.scanner.scan(
    args.tenant,
    {
      from: args.from,
      recipients: args.recipients,
      ip: args.client,
      helo: args.helo,
      user: args.user,
      queueId: args.id,
    },
    args.body,
  );
  switch (outcome.action) {
    case 'accept':
    case 'failed_open':
      return { spool: args.body };
    case 'failed_closed':
      return refuse('scanUnavailable', { reason: `content scan failed: ${outcome.error}` });
    case 'add_header':
      return { spool: Buffer.concat([spamHeaders(outcome.score, outcome.symbols), args.body]) };
    case 'reject':
      return refuse('spam', {
        reason: `spam score ${formatScore(outcome.score)} ≥ reject ${outcome.threshold} for tenant ${args.tenant}`,
      });
    case 'quarantine': {
      const heldAt = Date.now();
      const held: HeldMessage = {
        id: args.id,
        tenant: args.tenant,
        from: args.from,
        recipients: args.recipients,
        body: args.body,
        reason: 'spam',
        score: outcome.score,
        symbols: outcome.symbols,
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
        reason: 'spam',
        score: outcome.score,
        symbols: outcome.symbols,
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
  }
}
