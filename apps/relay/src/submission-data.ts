/**
 * The end of DATA at the submission listener: read the message while the door watches the
 * transfer (deadline and minimum rate), then intake's content stage through policy.onData (size,
 * hygiene, instruction headers, sender domains, the DMARC pre-check), trace headers, and intake's
 * enqueue (with the content scan when `scanning` is set: 550 5.7.1 spam, 451 4.7.1 scanner down and
 * fail closed; a held message is answered 250 like any accepted one) under `smtp.redis_timeout`.
 * Answers exactly once: `250` only after Redis acknowledged the enqueue; `451 4.3.0` when it did
 * not within the deadline (the enqueue may still complete later: the usual SMTP duplicate when
 * the client retries); nothing is spooled from a transfer the door cut (`421 4.4.2`).
 */
import type { Herald } from '@herald/delivery-core';
import { DeadlineExceeded } from '@herald/delivery-core/door';
import { type DsnNotify, type MessageDsn, parseOrcpt, type RecipientDsn } from '@herald/delivery-core/dsn';
import { prepareMessage } from '@herald/delivery-core/message';
import type { SuppressedRecipient } from '@herald/delivery-core/suppression';
import type { Context, Span } from '@herald/delivery-core/telemetry';
import { type DataCallback, type DoorGuard, receiveGuarded, smtpError } from '@herald/smtp-listener';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { type PolicyReply, REPLIES, type SessionFacts, type SubmissionPolicy, toReply } from './policy.js';
import { startAccept } from './session-trace.js';

export interface DataContext {
  herald: Herald;
  policy: SubmissionPolicy;
  guard: DoorGuard;
  facts(session: SMTPServerSession): SessionFacts;
  dropped(session: SMTPServerSession): Map<string, SuppressedRecipient>;
}

const toError = (reply: PolicyReply) => smtpError(reply.code, reply.enhanced, reply.text);

export function receiveData(
  ctx: DataContext,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  callback: DataCallback,
): void {
  receiveGuarded(ctx.guard, session, stream, callback, {
    tooBig: () => toError(REPLIES.tooBig),
    take: (body) => tracedSpool(ctx, body, session),
  });
}

/** spool() as the message's `herald.accept` span (a child of the session's). */
async function tracedSpool(ctx: DataContext, raw: Buffer, session: SMTPServerSession): Promise<string> {
  const accept = startAccept(ctx.herald, session);
  try {
    const text = await spool(ctx, raw, session, accept);
    accept.end({ code: 250 });
    return text;
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode ?? 451;
    accept.end({ code, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

/** Checks and spools one received message; resolves with the 250 text, rejects with the reply. */
async function spool(
  ctx: DataContext,
  raw: Buffer,
  session: SMTPServerSession,
  accept: { trace: Context; span: Span },
): Promise<string> {
  const { herald, policy, guard } = ctx;
  const { config, logger } = herald;
  const sessionFacts = ctx.facts(session);
  const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const message = policy.onData(raw, sessionFacts, from);
  if ('code' in message) throw toError(message);
  const tenant = policy.tenantOf(sessionFacts);
  const recipients = session.envelope.rcptTo.map((r) => r.address);
  const dropped = ctx.dropped(session);
  const deliver = recipients.filter((r) => !dropped.has(r.toLowerCase()));
  const id = herald.intake.newMessageId();
  accept.span.setAttributes({
    'herald.message_id': id,
    'herald.tenant': tenant,
    'herald.recipients': deliver.length,
  });
  const protocol = `ESMTP${session.secure ? 'S' : ''}${sessionFacts.user ? 'A' : ''}`;
  const prepared = prepareMessage(
    message.body,
    {
      helo: session.hostNameAppearsAs || 'unknown',
      clientAddress: session.remoteAddress,
      by: config.smtp.hostname,
      protocol,
      id,
      ...(recipients.length === 1 && recipients[0] ? { for: recipients[0] } : {}),
    },
    new Date(),
  );
  const refusal = await herald.intake.enqueue(
    {
      id,
      from,
      recipients: deliver,
      dropped: [...dropped.values()],
      body: prepared.body,
      tenant,
      source: 'smtp',
      client: session.remoteAddress,
      helo: session.hostNameAppearsAs || undefined,
      user: sessionFacts.user?.username,
      stream: message.stream,
      campaign: message.campaign,
      trace: accept.trace,
      dsn: dsnOf(session),
      smtputf8: session.envelope.smtpUtf8 === true,
    },
    { deadlineMs: guard.redisTimeoutMs },
  );
  if (refusal) {
    if (refusal.kind === 'spam') {
      logger.info({ id, tenant, reason: refusal.reason }, 'content scan rejected the message');
      throw toError(toReply(refusal));
    }
    if (refusal.kind === 'accountHeld') {
      // Counted as the session's error, as a spam refusal is: not a fault of ours to excuse.
      logger.info(
        { id, tenant, user: sessionFacts.user?.username },
        'flagged account at its held-mail cap: refused',
      );
      throw toError(toReply(refusal));
    }
    if (refusal.cause instanceof DeadlineExceeded) herald.metrics.smtpRedisTimeouts.inc({ stage: 'data' });
    logger.warn(
      { err: (refusal.cause as Error)?.message ?? refusal.reason, id },
      `intake failed; answered ${refusal.code}`,
    );
    guard.excuseNextError(session);
    throw toError(toReply(refusal));
  }
  guard.messageAccepted(session);
  return `2.0.0 Ok: queued as ${id}`;
}

/** The session's RFC 3461 parameters (smtp-server checked and decoded them; ORCPT checked at RCPT). */
function dsnOf(session: SMTPServerSession): MessageDsn | undefined {
  const { envelope } = session;
  const dsn: MessageDsn = {};
  const recipients: Record<string, RecipientDsn> = {};
  if (envelope.dsn?.ret === 'FULL' || envelope.dsn?.ret === 'HDRS') dsn.ret = envelope.dsn.ret;
  if (envelope.dsn?.envid) dsn.envid = envelope.dsn.envid;
  for (const rcpt of envelope.rcptTo) {
    const given: RecipientDsn = {};
    if (rcpt.dsn?.notify?.length) given.notify = rcpt.dsn.notify as DsnNotify[];
    const orcpt = rcpt.dsn?.orcpt ? parseOrcpt(rcpt.dsn.orcpt) : undefined;
    if (orcpt && 'orcpt' in orcpt) given.orcpt = orcpt.orcpt;
    if (given.notify || given.orcpt) recipients[rcpt.address.toLowerCase()] = given;
  }
  if (Object.keys(recipients).length > 0) dsn.recipients = recipients;
  return dsn;
}
