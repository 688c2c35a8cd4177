/**
 * Intake's scan stage (config `scanning`), run by the enqueue step just before spooling, for every
 * front end alike (the relay's DATA, `send()`; never Herald's own DSNs or a released message): the
 * message goes to rspamd (scan/) and the tenant's action by score decides — accept; add `X-Spam*`
 * headers (before DKIM, so they are signed); hold in quarantine (accepted and not queued: the
 * record in one MULTI, then the `accepted`, `suppressed` (dropped recipients) and `quarantined`
 * events); or the `spam` refusal (550 5.7.1). A failed scan is accepted (`fail: open`) or the
 * `scanUnavailable` refusal (451 4.7.1, `fail: closed`).
 * Needs injected: the scanner, the quarantine store's `hold`, the event sink.
 */
import { hasDsn } from '../dsn/index.js';
import type { EventSink, QuarantineEvent } from '../events/index.js';
import type { HeldMessage } from '../quarantine/index.js';
import { formatScore, type Scanner, spamHeaders } from '../scan/index.js';
import { suppressedEvent } from '../suppression/index.js';
import { acceptedEventOf, trafficOf } from './accepted.js';
import type { EnqueueArgs } from './enqueue.js';
import { type Refusal, refuse } from './refusals.js';

export interface ScanStageParts {
  scanner: Scanner;
  quarantine: { hold(message: HeldMessage): Promise<void> };
  events: EventSink;
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
      try {
        await parts.quarantine.hold(held);
      } catch (err) {
        return refuse('queueUnavailable', { cause: err });
      }
      const accepted = acceptedEventOf(args, heldAt);
      parts.events.emit(accepted);
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
        reason: 'spam',
        score: outcome.score,
        symbols: outcome.symbols,
        recipients: args.recipients,
      };
      parts.events.emit(quarantined);
      return 'held';
    }
  }
}
