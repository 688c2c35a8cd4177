/**
 * What a deleted held message tells, as data: the reply each recipient ends `bounced` with (the
 * why: retention expired, or the operator), and — per `quarantine.notify_sender` — one failure DSN
 * (RFC 3464, dsn/compose.ts) to its envelope sender. The DSN honours the sender's RFC 3461
 * request (a recipient with NOTIFY=NEVER, or NOTIFY without FAILURE, is left out; none left: no
 * DSN; ENVID and ORCPT echoed) and is never made for the null sender. The tenant's `dsn` switch is
 * the caller's (it reads the config in force). Pure: the caller passes ids and the clock.
 * Held mail's envelope sender is unproven (a flagged account may forge a victim's), so a notice
 * must not be backscatter worth forging: it returns no content — no message/rfc822, not even the
 * header section (RFC 3464 §2 allows none; RET is ignored) — and its diagnostic names no reason
 * or rule ("message held in quarantine and deleted after 30 days").
 */
import type { QUARANTINE_NOTIFY_MODES } from '../config/index.js';
import { composeDsn, type DsnRecipient, wantsReport } from '../dsn/index.js';
import { formatReply, type SmtpReply } from '../errors/index.js';
import type { HeldMessage } from './store.js';

export type QuarantineNotify = (typeof QUARANTINE_NOTIFY_MODES)[number];
/** Why a held message is deleted: its retention passed, or an operator (CLI, API) deleted it. */
export type DeleteCause = 'expiry' | 'operator';

/** Which causes tell the sender, per `quarantine.notify_sender`. */
const NOTIFIES: Readonly<Record<QuarantineNotify, readonly DeleteCause[]>> = {
  never: [],
  expiry: ['expiry'],
  always: ['expiry', 'operator'],
};

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const SECOND_MS = 1_000;

/** A retention as people say it: "30 days", "1 hour", "90 seconds" (the largest whole unit). */
export function retentionText(ms: number): string {
  const units = [
    [DAY_MS, 'day'],
    [HOUR_MS, 'hour'],
    [MINUTE_MS, 'minute'],
    [SECOND_MS, 'second'],
  ] as const;
  for (const [size, name] of units)
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  return `${ms} ms`;
}

/** The reply each recipient of a deleted held message ends `bounced` with (and the DSN's diagnostic). */
export function deletionReply(cause: DeleteCause, retentionMs: number): SmtpReply {
  const held = 'message held in quarantine';
  const text =
    cause === 'expiry'
      ? `${held} and deleted after ${retentionText(retentionMs)}`
      : `${held} and deleted by the operator`;
  return { code: 550, enhanced: '5.7.1', text, stage: 'local' };
}

/** Whether `notify_sender` tells the sender of a delete for this cause (NOTIFY and `dsn` aside). */
export function notifiesOn(mode: QuarantineNotify, cause: DeleteCause): boolean {
  return NOTIFIES[mode].includes(cause);
}

export interface DeletionDsnInput {
  message: HeldMessage;
  reply: SmtpReply;
  /** Our host name: Reporting-MTA and the DSN's sender domain. */
  hostname: string;
  /** The DSN's own message id (a spool id). */
  id: string;
  now: number;
}

/** The failure DSN for a deleted held message, or undefined (null sender, or no recipient asked). */
export function deletionDsn(input: DeletionDsnInput): Buffer | undefined {
  const { message, reply } = input;
  if (message.from === '') return undefined;
  const asked = message.dsn?.recipients ?? {};
  const recipients: DsnRecipient[] = [];
  for (const address of message.recipients) {
    const request = asked[address.toLowerCase()];
    if (!wantsReport(request?.notify, 'failure')) continue;
    recipients.push({
      address,
      action: 'failed',
      orcpt: request?.orcpt,
      status: reply.enhanced,
      diagnostic: formatReply(reply),
      lastAttemptAt: input.now,
    });
  }
  if (recipients.length === 0) return undefined;
  return composeDsn({
    reportingMta: input.hostname,
    to: message.from,
    originalId: message.id,
    arrivalAt: message.heldAt,
    recipients,
    // No `original` and no `ret`: the notice carries nothing of the held message (see header).
    envid: message.dsn?.envid,
    messageId: `${input.id}.dsn@${input.hostname}`,
    now: input.now,
  });
}
