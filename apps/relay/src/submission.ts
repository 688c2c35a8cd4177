/**
 * The SMTP submission listener (smtp-server): AUTH PLAIN/LOGIN, STARTTLS when a certificate is
 * configured, SIZE, PIPELINING, 8BITMIME, SMTPUTF8 and ENHANCEDSTATUSCODES. A message is answered
 * `250` only after Herald's enqueue (body + every job, one MULTI/EXEC) was acknowledged by Redis;
 * any failure to spool answers `451 4.3.0`, so the client keeps the message and retries.
 * X-Herald-Stream / X-Herald-Campaign headers are taken out of the message before it is spooled
 * (policy.onData); invalid ones are refused with `554 5.6.0`.
 * At RCPT the recipient is looked up in the tenant's suppression list (one HMGET): refused with
 * `550 5.7.1`, or accepted and dropped (no job, a `suppressed` event at DATA); a failed lookup
 * answers `451 4.3.0`, never an unchecked `250`. A tenant with `refuse_dmarc_fail` gets
 * `550 5.7.26` for mail whose DMARC would fail on Herald's path (no aligned DKIM key or return path).
 */

import type { Herald } from '@herald/delivery-core';
import { tenantPolicy } from '@herald/delivery-core/config';
import { prepareMessage } from '@herald/delivery-core/message';
import { newMessageId } from '@herald/delivery-core/queue';
import type { SuppressedRecipient } from '@herald/delivery-core/suppression';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { smtpError, useOwnEnhancedCodes } from './enhanced-codes.js';
import { type PolicyReply, REPLIES, type SessionFacts, type SubmissionPolicy } from './policy.js';

export interface SubmissionOptions {
  herald: Herald;
  policy: SubmissionPolicy;
  tls?: { key: Buffer | string; cert: Buffer | string } | undefined;
}

type SessionUser = { username: string; tenant: string };

const toError = (reply: PolicyReply) => smtpError(reply.code, reply.enhanced, reply.text);

/** Recipients accepted at RCPT but dropped by the suppression list, per session and transaction. */
interface DroppedRecipients {
  transaction: number;
  byAddress: Map<string, SuppressedRecipient>;
}
const droppedBySession = new WeakMap<SMTPServerSession, DroppedRecipients>();

function droppedIn(session: SMTPServerSession): Map<string, SuppressedRecipient> {
  let dropped = droppedBySession.get(session);
  if (!dropped || dropped.transaction !== session.transaction) {
    dropped = { transaction: session.transaction, byAddress: new Map() };
    droppedBySession.set(session, dropped);
  }
  return dropped.byAddress;
}

function facts(session: SMTPServerSession): SessionFacts {
  return {
    remoteAddress: session.remoteAddress,
    user: session.user as unknown as SessionUser | undefined,
    secure: session.secure,
    recipients: session.envelope.rcptTo.length,
  };
}

export function createSubmissionServer({ herald, policy, tls }: SubmissionOptions): SMTPServer {
  useOwnEnhancedCodes();
  const { config, logger } = herald;
  return new SMTPServer({
    name: config.smtp.hostname,
    banner: 'Herald ESMTP',
    size: config.smtp.max_message_size,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    allowInsecureAuth: !config.smtp.require_auth_tls,
    hideENHANCEDSTATUSCODES: false,
    hideSTARTTLS: !tls,
    disabledCommands: tls ? [] : ['STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    maxClients: config.smtp.max_clients,
    socketTimeout: config.smtp.socket_timeout,
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, session, callback) {
      policy
        .onAuth(auth.username ?? '', auth.password ?? '', facts(session))
        .then((result) =>
          'code' in result ? callback(toError(result)) : callback(null, { user: result as never }),
        )
        .catch((err: unknown) => callback(err as Error));
    },
    onMailFrom(address, session, callback) {
      const refusal = policy.onMailFrom(address.address, facts(session));
      callback(refusal ? toError(refusal) : undefined);
    },
    onRcptTo(address, session, callback) {
      const sessionFacts = facts(session);
      const refusal = policy.onRcptTo(address.address, sessionFacts);
      if (refusal) {
        callback(toError(refusal));
        return;
      }
      const dropped = droppedIn(session);
      herald.suppression
        .check(policy.tenantOf(sessionFacts), [address.address])
        .then((found) => {
          const entry = found.get(address.address);
          dropped.delete(address.address.toLowerCase());
          if (!entry) return callback();
          const decision = policy.onSuppressedRecipient(address.address, entry, sessionFacts);
          if (decision !== 'drop') return callback(toError(decision));
          dropped.set(address.address.toLowerCase(), { address: address.address, entry });
          callback();
        })
        .catch((err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'suppression lookup failed; answered 451');
          callback(toError(REPLIES.suppressionUnavailable));
        });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(toError(REPLIES.tooBig));
          return;
        }
        const sessionFacts = facts(session);
        const message = policy.onData(Buffer.concat(chunks), sessionFacts);
        if ('code' in message) {
          callback(toError(message));
          return;
        }
        const tenant = policy.tenantOf(sessionFacts);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        if (tenantPolicy(config, tenant).refuse_dmarc_fail) {
          const problem = herald.dmarcProblem({ tenant, from, body: message.body });
          if (problem) {
            callback(toError({ ...REPLIES.dmarcWouldFail, text: problem }));
            return;
          }
        }
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        const dropped = droppedIn(session);
        const deliver = recipients.filter((r) => !dropped.has(r.toLowerCase()));
        const id = newMessageId();
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
        herald
          .enqueuePrepared({
            id,
            from,
            recipients: deliver,
            dropped: [...dropped.values()],
            body: prepared.body,
            tenant,
            source: 'smtp',
            client: session.remoteAddress,
            stream: message.stream,
            campaign: message.campaign,
          })
          .then(() => callback(null, `2.0.0 Ok: queued as ${id}`))
          .catch((err: unknown) => {
            logger.warn({ err: (err as Error).message, id }, 'spooling failed; answered 451');
            callback(toError(REPLIES.queueUnavailable));
          });
      });
    },
  });
}
