/**
 * One mail transaction's exchange on an open, greeted connection (RFC 5321 §3.3): MAIL, a RCPT per
 * recipient and DATA — in one write when the server offers PIPELINING (RFC 2920), each command's
 * reply due within command_timeout of that write; else one at a time, each due within
 * command_timeout of its own —, then the body and the reply to its final dot (data_timeout plus
 * the body's size at a minimum rate). Contract: one result per recipient (its RCPT's refusal, or
 * the reply to DATA or to the final dot for the accepted); a refused MAIL, pipelined, still reads
 * the RCPT and DATA replies to stay in step; a reply out of step (a 2xx to DATA, a reply waiting
 * after DATA's) drops the connection and defers every recipient (4.5.0), never delivers or
 * bounces one; `ended` is called once the final dot got its reply (no RSET needed before the
 * next MAIL). A failed, timed-out or broken connection throws (DeliveryError from the wire): the
 * caller (SmtpSession.send) drops the connection. Uses `at.stage` to say where it was, and
 * `at.dotSent` once the final dot was written (a failure after it leaves the message's fate unknown).
 */
import type { DeliveryError, SmtpReply, SmtpStage } from '../errors/index.js';
import { dataDeadlineMs, encodeDataChunks } from './data-encoding.js';
import { tooManyAsTemporary } from './recipient-limit.js';
import { networkError, replyError } from './reply.js';
import { type Extensions, exchange } from './session-setup.js';
import type { SessionTimeouts, TransactionResult } from './session-types.js';
import type { SmtpWire } from './wire.js';

/** What a transaction runs on: the session's connection, the server's extensions and deadlines. */
export interface TransactionLink {
  wire: SmtpWire;
  ext: Extensions;
  timeouts: SessionTimeouts;
  /** The server's host name, for replies. */
  host: string;
}

/** The commands of one transaction, as the envelope and the server's extensions made them. */
export interface TransactionCommands {
  mail: string;
  rcpt(to: string): string;
}

/** Where a transaction is: its stage, and whether the body's final dot went to the socket. */
export interface TransactionProgress {
  stage: SmtpStage;
  /** Set once the whole body, final dot included, was written for accepted recipients. */
  dotSent?: boolean;
}

export async function runTransaction(
  link: TransactionLink,
  commands: TransactionCommands,
  recipients: string[],
  body: Buffer,
  replies: Map<string, SmtpReply>,
  at: TransactionProgress,
  ended: () => void,
): Promise<TransactionResult> {
  const { wire, host } = link;
  const { commandMs, dataMs } = link.timeouts;
  const pipelined = link.ext.pipelining;
  if (pipelined) {
    const group = [commands.mail, ...recipients.map(commands.rcpt), 'DATA', ''];
    wire.write(group.join('\r\n'));
  }
  // Pipelined, every command is already written: only its reply is read, and every reply of the
  // group is due within command_timeout of the write (a server that takes almost the deadline
  // per reply cannot stretch an attempt with the number of recipients). One at a time, each
  // command's reply is due within command_timeout of its own write.
  const groupDue = Date.now() + commandMs;
  // `command` undefined: only read the next reply (the end of data's, the drained ones).
  const next = (command: string | undefined, what: string, ms?: number) => {
    const deadline = ms ?? (pipelined ? Math.max(1, groupDue - Date.now()) : commandMs);
    const stated = ms ?? commandMs;
    return exchange(wire, pipelined ? undefined : command, deadline, at.stage, host, what, stated).then(
      (r) => r.reply,
    );
  };

  const mail = await next(commands.mail, 'the reply to MAIL FROM');
  if (mail.code >= 300) {
    // Pipelined, RCPT and DATA were refused too: read their replies to keep the session in step
    // (a connection that fails meanwhile is dropped; the recipients keep the MAIL reply).
    if (pipelined) await drainRefused(wire, recipients.length, next).catch(() => wire.destroy());
    return transactionResult(recipients, replies, replyError(mail));
  }
  at.stage = 'rcpt';
  const accepted: string[] = [];
  for (const to of recipients) {
    const rcpt = tooManyAsTemporary(await next(commands.rcpt(to), `the reply to RCPT TO:<${to}>`));
    if (rcpt.code < 300) accepted.push(to);
    else replies.set(to, rcpt);
  }
  at.stage = 'data';
  if (accepted.length === 0 && !pipelined) return transactionResult(recipients, replies);
  const data = await next('DATA', 'the reply to DATA');
  const early = wire.unread;
  if ((data.code >= 200 && data.code < 300) || early) {
    // "250" to DATA: the server says it took a message it never received; or a reply already
    // waits after DATA's, which nothing asked for. Nothing was sent: never count that as
    // delivered (nor a 5xx read as DATA's as a refusal). The replies are out of step — shifted
    // by one, say, by a late extra reply to the last final dot read as MAIL's — so no RCPT reply
    // of this transaction stands: every recipient waits for the next attempt, never bounced
    // with the reply the server gave another one. The connection is dropped.
    const what = early
      ? `sent a reply after its reply to DATA (${data.code})`
      : `answered DATA with ${data.code} instead of 354`;
    wire.destroy(`the server ${what}`);
    for (const to of recipients) replies.delete(to);
    const text = `protocol error: ${host} ${what}; message not sent`;
    return transactionResult(recipients, replies, networkError(text, 'data', host, '4.5.0'));
  }
  if (data.code !== 354) {
    for (const to of accepted) replies.set(to, data);
    return transactionResult(recipients, replies, accepted.length > 0 ? replyError(data) : undefined);
  }
  // RFC 2920 §3.1: a server that says 354 with no recipient accepted gets an empty message.
  if (accepted.length === 0) wire.write('.\r\n');
  else
    wire.pump(encodeDataChunks(body), () => {
      at.dotSent = true;
    });
  const final = await next(undefined, 'the reply to the end of data', dataDeadlineMs(dataMs, body.length));
  // The transaction is over, whatever the reply: no RSET needed.
  ended();
  for (const to of accepted) replies.set(to, final);
  return transactionResult(
    recipients,
    replies,
    accepted.length > 0 && final.code >= 300 ? replyError(final) : undefined,
  );
}

/** Pipelined after a refused MAIL: read the RCPT and DATA replies (an odd 354 gets an empty message). */
async function drainRefused(
  wire: SmtpWire,
  rcpts: number,
  next: (command: string | undefined, what: string) => Promise<SmtpReply>,
): Promise<void> {
  for (let i = 0; i < rcpts; i++) await next(undefined, 'the reply to RCPT TO');
  const data = await next(undefined, 'the reply to DATA');
  if (data.code === 354) {
    wire.write('.\r\n');
    await next(undefined, 'the reply to the end of data');
  }
}

/** Each recipient's reply; those without one get `error`'s (or, if none, "no reply recorded"). */
export function transactionResult(
  recipients: string[],
  replies: Map<string, SmtpReply>,
  error?: DeliveryError,
): TransactionResult {
  const out: TransactionResult = {
    recipients: recipients.map((address) => {
      const reply = replies.get(address) ?? error?.reply ?? noReply(address);
      return { address, accepted: reply.code >= 200 && reply.code < 300, reply };
    }),
  };
  if (error) out.error = error;
  return out;
}

function noReply(address: string): SmtpReply {
  return { code: 451, enhanced: '4.3.0', text: `no reply recorded for <${address}>`, stage: 'rcpt' };
}
