/**
 * A server's limit on recipients per transaction (RFC 5321 §4.5.3.1.8, §4.5.3.1.10): it answers
 * the RCPTs over its limit "452 too many recipients" (552 in RFC 821, still sent by some). Owns:
 * reading such a 552 as the 452 it is (`tooManyAsTemporary`), and sending the recipients refused
 * so in further transactions (`sendRest`), the "chunks" RFC 5321 asks a client to be prepared
 * for, instead of leaving them to the next attempt's backoff. Guarantees: every further
 * transaction delivered at least one more recipient than the one before (progress); none runs on
 * a connection whose last transaction did not end with a reply to its final dot; each is a
 * message like any other: it counts against the connection's max_messages_per_connection (at the
 * cap the rest go on another connection of the pool, as Postfix sends them on a new one) and
 * takes a message of the destination's rate (`messageSlot`, which may wait for one). Recipients
 * that cannot go on — no message of the rate in time, no other connection to be had — are
 * deferred (4xx, saying why), never bounced: the next attempt sends them.
 */
import { DeliveryError, type SmtpReply, ThrottledError } from '../errors/index.js';
import type { SmtpPool } from './pool.js';
import { networkError } from './reply.js';
import type { SmtpSession } from './session.js';
import type { SessionTarget, TransactionResult } from './session-types.js';

/** The words of a "too many recipients" refusal (Postfix, Exim, Sendmail, smtp-server say them). */
const TOO_MANY_RECIPIENTS = /too many recipients/i;
/** RFC 3463 X.5.3: too many recipients. */
const TOO_MANY_STATUS = /^[45]\.5\.3$/;

/** The reply refuses the RCPT only for being over the server's recipient limit. */
function overLimit(reply: SmtpReply): boolean {
  return TOO_MANY_STATUS.test(reply.enhanced ?? '') || TOO_MANY_RECIPIENTS.test(reply.text);
}

/**
 * RFC 5321 §4.5.3.1.10: a client SHOULD take a 552 "too many recipients" to RCPT as temporary, so
 * the recipient waits instead of bouncing. Other 552s to RCPT (over quota, "too much mail data")
 * stay permanent, as in Postfix, which leaves RFC 5321's blanket rule out for them (smtp_proto.c).
 */
export function tooManyAsTemporary(reply: SmtpReply): SmtpReply {
  if (reply.code !== 552 || !overLimit(reply)) return reply;
  return { ...reply, code: 452, enhanced: reply.enhanced ? `4${reply.enhanced.slice(1)}` : '4.5.3' };
}

/**
 * The reply of a recipient not sent in a further message (a VERP transaction, the rest over a
 * server's recipient limit) because the destination's message rate had none free in time.
 */
export function noMessageSlotReply(host: string): SmtpReply {
  const text = `not sent in a further transaction to ${host}: the destination's max_message_rate had no message free in time`;
  return { code: 451, enhanced: '4.4.5', text, stage: 'rcpt', host };
}

/** What further transactions need of the attempt (deliver.ts). */
export interface FurtherTransactions {
  pool: SmtpPool;
  /** Where the first transaction went: another connection for the rest goes there too. */
  target: SessionTarget;
  send(session: SmtpSession, recipients: string[]): Promise<TransactionResult>;
  /** Takes a message of the destination's rate: false when none came in time (AttemptRequest). */
  messageSlot?: (() => Promise<boolean>) | undefined;
}

export interface RestSent {
  /** Every recipient's last outcome, and the last transaction's error. */
  result: TransactionResult;
  /** The session the last transaction ran on (the attempt's host). */
  session: SmtpSession;
  /** False: `session` went back to the pool already (at its cap, and no other could be had). */
  held: boolean;
  /** Another connection for the rest failed (not for the site's limits): a host error. */
  hostError?: DeliveryError;
  /**
   * Recipients Herald itself kept from a further transaction (no message of the rate in time, no
   * other connection now): they wait for the next attempt, not for another host of this one.
   */
  heldBack: Set<string>;
}

/**
 * After `first` (on `session`) took the message for some recipients and refused others as over
 * the limit, sends those again in further transactions while each delivers someone: on the same
 * connection once it is ready (`readyForReuse`) and under its max_messages_per_connection, else
 * on another from the pool; each after taking a message of the destination's rate.
 */
export async function sendRest(
  further: FurtherTransactions,
  session: SmtpSession,
  first: TransactionResult,
): Promise<RestSent> {
  const merged: TransactionResult = { recipients: [...first.recipients] };
  const out: RestSent = { result: merged, session, held: true, heldBack: new Set() };
  const update = (outcomes: TransactionResult['recipients']) => {
    const byAddress = new Map(outcomes.map((r) => [r.address, r]));
    for (const [i, r] of merged.recipients.entries()) merged.recipients[i] = byAddress.get(r.address) ?? r;
  };
  let last = first;
  for (;;) {
    if (last.error) break;
    const rest = last.recipients.filter(
      (r) => !r.accepted && r.reply.code === 452 && r.reply.stage === 'rcpt' && overLimit(r.reply),
    );
    if (rest.length === 0 || !last.recipients.some((r) => r.accepted)) break;
    const next = await nextSession(further, out);
    if (next === undefined) break;
    if ('code' in next) {
      update(rest.map((r) => ({ address: r.address, accepted: false, reply: next })));
      for (const r of rest) out.heldBack.add(r.address);
      break;
    }
    out.session = next;
    last = await further.send(
      next,
      rest.map((r) => r.address),
    );
    update(last.recipients);
  }
  if (last.error) merged.error = last.error;
  if (last.dotUnanswered) merged.dotUnanswered = true;
  return out;
}

/**
 * The session for the next further transaction, undefined when this connection cannot run one
 * (lost, or an RSET unanswered: the rest keep their 452), or the reply the rest wait with.
 */
async function nextSession(
  further: FurtherTransactions,
  out: RestSent,
): Promise<SmtpSession | SmtpReply | undefined> {
  const { pool, target, messageSlot } = further;
  const session = out.session;
  const host = target.hostname;
  const underCap = pool.hasRoom(session);
  if (underCap && !(await session.readyForReuse())) return undefined;
  // A limiter that cannot answer (Redis down) gives no message: the rest wait, never over the rate.
  if (messageSlot && !(await messageSlot().catch(() => false))) return noMessageSlotReply(host);
  // The slot may have taken a while: a connection the server closed meanwhile is not used (after
  // the RSET above this only looks at the socket).
  if (underCap) return (await session.readyForReuse()) ? session : undefined;
  // max_messages_per_connection reached: this connection closes and the rest go on another, asked
  // for once it is gone (its site lease still counted against the site's connection limit).
  await pool.release(session, await session.readyForReuse());
  try {
    const fresh = await pool.acquire(target);
    out.held = true;
    return fresh;
  } catch (err) {
    out.held = false;
    const error =
      err instanceof DeliveryError
        ? err
        : networkError(`local error: ${(err as Error)?.message}`, 'connect', host, '4.3.0', err);
    if (!(error instanceof ThrottledError)) out.hostError = error;
    const why = `not sent: ${session.messagesSent} transactions on one connection to ${host} (max_messages_per_connection) and no other now`;
    const reply = error.reply;
    const enhanced = reply.enhanced ? `4${reply.enhanced.slice(1)}` : '4.4.0';
    return {
      code: reply.code < 500 ? reply.code : 451,
      enhanced,
      text: `${why}: ${reply.text}`,
      stage: 'rcpt',
      host,
    };
  }
}
