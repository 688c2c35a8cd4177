/**
 * Intake's scan stage (config `scanning`), run by the enqueue step just before spooling, for every
 * front end alike (the relay's DATA, `send()`; never Herald's own DSNs or a released message): the
 * message goes to rspamd (scan/) and the tenant's action by score decides — accept; add `X-Spam*`
 * headers (before DKIM, so they are signed); hold in quarantine (hold.ts: accepted, not queued; the record and its events in one MULTI); or the `spam` refusal (550 5.7.1). A failed scan is accepted (`fail: open`) or the
 * `scanUnavailable` refusal (451 4.7.1, `fail: closed`).
 * Needs injected: the scanner, the quarantine store's `hold`, the event sink.
 */
import type { RedisEventSink } from '../events/index.js';
import type { QuarantineStore } from '../quarantine/index.js';
import { formatScore, type Scanner, spamHeaders } from '../scan/index.js';
import type { EnqueueArgs } from './enqueue.js';
import { holdMessage } from './hold.js';
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
    case 'quarantine':
      return holdMessage(parts, args, { reason: 'spam', score: outcome.score, symbols: outcome.symbols });
  }
}
