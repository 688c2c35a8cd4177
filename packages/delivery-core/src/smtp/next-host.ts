/**
 * The decision an attempt (deliver.ts) makes after one host's transactions, as Postfix's smtp(8)
 * makes it ("when mail delivery fails due to a recoverable error condition, the SMTP client will
 * try to deliver the mail to an alternate host"): a recipient delivered (2xx) or refused for good
 * (5xx) there is done and never sent again; one deferred there (a 4xx to MAIL, its RCPT, DATA or
 * the end of data, a 421, a connection lost before the final dot) goes on to the next address /
 * MX host of the attempt, within its limits — unless
 * - the connection failed after the body's final dot was written, before its reply: the server
 *   may have taken the message, and another host would deliver it twice; the attempt ends there;
 * - Herald itself held it back (no message of the destination's rate in time, no other connection
 *   under the site's limits; recipient-limit.ts): it waits for the next attempt.
 * The host's errors, for the attempt's report (and the shaping rules that read its replies): each
 * distinct reply the recipients going on got there (the transaction's own — MAIL or DATA refused,
 * 421, lost connection — or their RCPT's), in recipient order. Pure.
 */
import type { SmtpReply } from '../errors/index.js';
import type { TransactionResult } from './session-types.js';

export interface HostVerdict {
  /** The recipients to try at the next host, in order; empty: the attempt ends with this host. */
  onward: string[];
  /** This host's errors for the report (empty when nobody goes on). */
  errors: SmtpReply[];
}

/** Which recipients of `result` (one host's transactions) go on to the next host, and why. */
export function judgeHost(result: TransactionResult, heldBack: ReadonlySet<string> = new Set()): HostVerdict {
  if (result.dotUnanswered) return { onward: [], errors: [] };
  const deferred = result.recipients.filter(
    (r) => !r.accepted && r.reply.code < 500 && !heldBack.has(r.address),
  );
  if (deferred.length === 0) return { onward: [], errors: [] };
  const onward = deferred.map((r) => r.address);
  const errors: SmtpReply[] = [];
  const seen = new Set<string>();
  for (const { reply } of deferred) {
    const key = `${reply.code} ${reply.enhanced ?? ''} ${reply.text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push(reply);
  }
  return { onward, errors };
}
