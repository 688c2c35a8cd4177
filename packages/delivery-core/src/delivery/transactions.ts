/**
 * The SMTP side of one delivery attempt: the job's transaction options (its RFC 3461 request and
 * SMTPUTF8 flag for the wire, the 8-bit conversion made at most once per attempt) and its
 * transactions (one for all recipients, or one per recipient with VERP return paths), as
 * `processDelivery` (process.ts) runs them.
 */
import type { DeliveryJobData } from '../queue/index.js';
import {
  type AttemptReport,
  deliverAttempt,
  noMessageSlotReply,
  type TransactionOptions,
} from '../smtp/index.js';
import type { DeliveryDeps } from './types.js';

/**
 * The job's DSN request and SMTPUTF8 flag for the wire, and the 8-bit conversion (made once per
 * attempt, however many hosts or VERP transactions need it).
 */
export function transactionOptions(data: DeliveryJobData, deps: DeliveryDeps): TransactionOptions {
  const options: TransactionOptions = {};
  const recipients: Record<string, { notify?: readonly string[]; orcpt?: string }> = {};
  for (const r of data.recipients)
    if (r.notify || r.orcpt)
      recipients[r.address.toLowerCase()] = {
        ...(r.notify ? { notify: r.notify } : {}),
        ...(r.orcpt ? { orcpt: r.orcpt } : {}),
      };
  if (data.ret || data.envid || Object.keys(recipients).length > 0)
    options.dsn = { ret: data.ret, envid: data.envid, recipients };
  if (data.smtputf8) options.smtputf8 = true;
  const downgrade = deps.downgrade8bit;
  if (downgrade) {
    let converted: { body: Buffer | undefined } | undefined;
    options.downgrade = (body) => {
      converted ??= { body: downgrade(body) };
      return converted.body;
    };
  }
  return options;
}

export type SharedRequest = Omit<Parameters<typeof deliverAttempt>[1], 'from' | 'recipients'>;

/**
 * The attempt's SMTP transactions: one for all recipients, or — with VERP return paths — one per
 * recipient (each its own MAIL FROM), over the same pooled connection. Each transaction after the
 * first is a message to the destination: it takes one of its rate (`messageSlot`), and when none is
 * free the rest are deferred (451 4.4.5). If a later transaction finds no connection slot, its
 * recipient is deferred with that reply (the attempt has begun).
 */
export async function sendTransactions(
  deps: DeliveryDeps,
  data: DeliveryJobData,
  recipients: string[],
  request: SharedRequest,
): Promise<AttemptReport> {
  const returnPath = data.from === '' ? undefined : deps.returnPath;
  if (!returnPath) return deliverAttempt(deps.pool, { ...request, from: data.from, recipients });
  // A VERP return path is Herald's bounce address, not the sender's: a next hop's DSN would reach
  // the bounce-processor, never the sender. So the request is not passed on (Herald reports
  // `relayed` itself, RFC 3461 §4.1), as to a next hop without DSN.
  const { dsn: _toHerald, ...transaction } = request.transaction ?? {};
  let merged: AttemptReport | undefined;
  for (const [i, recipient] of recipients.entries()) {
    if (merged && request.messageSlot && !(await request.messageSlot())) {
      const reply = noMessageSlotReply(data.domain);
      for (const rest of recipients.slice(i))
        merged.recipients.push({ address: rest, accepted: false, reply });
      break;
    }
    const report = await deliverAttempt(deps.pool, {
      ...request,
      transaction,
      from: returnPath(data, recipient),
      recipients: [recipient],
    });
    if (!merged) {
      if (report.throttled) return report;
      merged = report;
    } else {
      merged.hostErrors.push(...report.hostErrors);
      merged.durationMs += report.durationMs;
      merged.connectionReply ??= report.connectionReply;
      if (report.host) merged.host = report.host;
      merged.recipients.push(
        ...(report.throttled
          ? [{ address: recipient, accepted: false, reply: report.throttled.reply }]
          : report.recipients),
      );
    }
    const reply = report.connectionReply;
    if (reply) {
      // The site failed at the connection level (unreachable, 421, lost connection): the rest of
      // this attempt's recipients wait for the next attempt instead of hammering it one by one,
      // with that failure's reply — not the reply of this recipient's RCPT, which may have been
      // refused (550) on the connection before it was lost.
      for (const rest of recipients.slice(i + 1))
        merged.recipients.push({ address: rest, accepted: false, reply });
      break;
    }
  }
  return merged!;
}
