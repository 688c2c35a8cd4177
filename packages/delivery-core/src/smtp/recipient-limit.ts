/**
 * A server's limit on recipients per transaction (RFC 5321 §4.5.3.1.8, §4.5.3.1.10): it answers
 * the RCPTs over its limit "452 too many recipients" (552 in RFC 821, still sent by some). Owns:
 * reading such a 552 as the 452 it is (`tooManyAsTemporary`), and sending the recipients refused
 * so in further transactions on the same connection (`sendRest`), the "chunks" RFC 5321 asks a
 * client to be prepared for, instead of leaving them to the next attempt's backoff. Guarantees:
 * every further transaction delivered at least one more recipient than the one before (progress),
 * and none runs on a connection whose last transaction did not end with a reply to its final dot.
 */
import type { SmtpReply } from '../errors/index.js';
import type { TransactionResult } from './session-types.js';

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
 * After `first` took the message for some recipients and refused others as over the limit, sends
 * those again in a further transaction on the same connection (once `ready`: the session's
 * `readyForReuse`), while each one delivers someone. The merged
 * result keeps every recipient's last outcome and the last transaction's error.
 */
export async function sendRest(
  ready: () => Promise<boolean>,
  send: (recipients: string[]) => Promise<TransactionResult>,
  first: TransactionResult,
): Promise<TransactionResult> {
  const merged: TransactionResult = { recipients: [...first.recipients] };
  let last = first;
  for (;;) {
    if (last.error) break;
    const rest = last.recipients.filter(
      (r) => !r.accepted && r.reply.code === 452 && r.reply.stage === 'rcpt' && overLimit(r.reply),
    );
    if (rest.length === 0 || !last.recipients.some((r) => r.accepted)) break;
    if (!(await ready())) break;
    last = await send(rest.map((r) => r.address));
    const byAddress = new Map(last.recipients.map((r) => [r.address, r]));
    for (const [i, r] of merged.recipients.entries()) merged.recipients[i] = byAddress.get(r.address) ?? r;
  }
  if (last.error) merged.error = last.error;
  return merged;
}
