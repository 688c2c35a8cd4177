/**
 * The SMTP submission listener (smtp-server): AUTH PLAIN/LOGIN, STARTTLS when a certificate is
 * configured, SIZE, PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and DSN (RFC 3461:
 * smtp-server checks NOTIFY and RET and undoes xtext; ENVID and ORCPT are checked as the client
 * wrote them — valid xtext, at most 100 / 500 characters, printable once decoded, ORCPT's
 * addr-type an atom — by the door's command screen before smtp-server parses the command, and
 * again decoded in the hooks: `501 5.5.4` when malformed, as is a control character such as a NUL
 * among the parameters; a parameter no announced extension defines is `555 5.5.4`, which
 * smtp-server alone would take silently). A message is answered
 * `250` only after Herald's enqueue (body + every job, one MULTI/EXEC) was acknowledged by Redis;
 * any failure to spool answers `451 4.3.0`, so the client keeps the message and retries.
 * Every decision is the intake pipeline's (herald.intake, translated by policy.ts), the same as
 * `send()` makes: X-Herald-Stream / X-Herald-Campaign headers are taken out of the message before
 * it is spooled; invalid ones are refused with `554 5.6.0`.
 * At RCPT the recipient is looked up in the tenant's suppression list (one HMGET): refused with
 * `550 5.7.1`, or accepted and dropped (no job, a `suppressed` event at DATA); a failed lookup
 * answers `451 4.3.0`, never an unchecked `250`. A tenant with `refuse_dmarc_fail` gets
 * `550 5.7.26` for mail whose DMARC would fail on Herald's path (no aligned DKIM key or return path).
 * The door (@herald/smtp-listener's door guard) applies the per-client and per-session limits and the DATA deadlines;
 * every Redis call in a session (suppression lookup, enqueue) has `smtp.redis_timeout` to answer.
 */

import type { Herald } from '@herald/delivery-core';
import { DeadlineExceeded } from '@herald/delivery-core/door';
import {
  dsnParamProblem,
  envidProblem,
  parseOrcpt,
  pathParamSyntaxProblem,
  unknownPathParam,
} from '@herald/delivery-core/dsn';
import { isRefusal } from '@herald/delivery-core/intake';
import type { SuppressedRecipient } from '@herald/delivery-core/suppression';
import {
  createDoorGuard,
  SERVER_MAX_CLIENTS_SLACK,
  smtpError,
  useOwnEnhancedCodes,
} from '@herald/smtp-listener';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { type PolicyReply, REPLIES, type SessionFacts, type SubmissionPolicy, toReply } from './policy.js';
import { sessionClosed, sessionOpened } from './session-trace.js';
import { receiveData } from './submission-data.js';

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
  const { config, logger } = herald;
  const guard = createDoorGuard({
    smtp: config.smtp,
    maxClients: config.smtp.max_clients,
    tls: Boolean(tls),
    events: herald.events,
    metrics: herald.metrics,
    logger,
    // ENVID / ORCPT as written (smtp-server decodes xtext first, and answers a CR/LF smuggled in
    // it with its own "501 Bad sender address syntax"): a malformed one is 501 5.5.4 here.
    screen(name, line) {
      if (name !== 'MAIL' && name !== 'RCPT') return undefined;
      // A control character (a NUL) where parameters go is not a parameter: a syntax error.
      const syntax = pathParamSyntaxProblem(line);
      if (syntax) return { code: 501, text: `5.5.4 ${syntax}` };
      // A parameter no announced extension defines (smtp-server would take it silently).
      const unknown = unknownPathParam(line);
      if (unknown !== undefined) return { code: 555, text: `5.5.4 Unsupported parameter: ${unknown}` };
      const problem = dsnParamProblem(line);
      return problem ? { code: 501, text: `5.5.4 ${problem}` } : undefined;
    },
  });
  if (config.smtp.require_auth_tls && !tls && config.smtp.users.length > 0)
    logger.warn(
      'smtp.require_auth_tls is on but no certificate is configured: only clients in smtp.plaintext_auth_networks can AUTH',
    );
  const dataContext = { herald, policy, guard, facts, dropped: droppedIn };
  const server = new SMTPServer({
    name: config.smtp.hostname,
    banner: 'Herald ESMTP',
    size: config.smtp.max_message_size,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // AUTH in clear is decided per session by the door (smtp.require_auth_tls, plaintext_auth_networks).
    allowInsecureAuth: true,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hideSTARTTLS: !tls,
    disabledCommands: tls ? [] : ['STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    maxClients: config.smtp.max_clients + SERVER_MAX_CLIENTS_SLACK,
    socketTimeout: config.smtp.socket_timeout,
    disableReverseLookup: true,
    logger: false,
    onConnect: (session, callback) => {
      sessionOpened(herald, session);
      guard.onConnect(session, callback);
    },
    onSecure: (socket, session, callback) => guard.onSecure(socket, session, callback),
    onClose: (session) => {
      guard.onClose(session);
      sessionClosed(session);
    },
    onAuth(auth, session, callback) {
      const username = auth.username ?? '';
      // One check at a time per client: parallel guesses see each other's failures and block.
      guard
        .authInTurn(session, async () => {
          const blocked = guard.authBlocked(session);
          if (blocked) return callback(toError(blocked));
          const result = await policy.onAuth(username, auth.password ?? '', facts(session));
          const credentialsChecked = !('code' in result) || result === REPLIES.authFailed;
          if (!credentialsChecked) return callback(toError(result as PolicyReply));
          const closing = await guard.authSettled(session, username, !('code' in result));
          if (closing) return callback(toError(closing));
          if ('code' in result) return callback(toError(result));
          callback(null, { user: result as never });
        })
        .catch((err: unknown) => callback(err as Error));
    },
    onMailFrom(address, session, callback) {
      const envid = session.envelope.dsn?.envid;
      const badEnvid = envid ? envidProblem(envid) : undefined;
      if (badEnvid) return callback(smtpError(501, '5.5.4', badEnvid));
      const refusal = policy.onMailFrom(address.address, facts(session));
      if (!refusal) guard.mailAccepted(session);
      callback(refusal ? toError(refusal) : undefined);
    },
    onRcptTo(address, session, callback) {
      const orcpt = address.dsn?.orcpt ? parseOrcpt(address.dsn.orcpt) : undefined;
      if (orcpt && 'problem' in orcpt) return callback(smtpError(501, '5.5.4', orcpt.problem));
      const sessionFacts = facts(session);
      const refusal = policy.onRcptTo(address.address, sessionFacts);
      if (refusal) {
        // Only relaying without AUTH is the client's error; the rest is about this recipient.
        if (refusal.code !== REPLIES.authRequired.code) guard.excuseNextError(session);
        callback(toError(refusal));
        return;
      }
      const dropped = droppedIn(session);
      const tenant = policy.tenantOf(sessionFacts);
      void herald.intake
        .screen(tenant, [address.address], { deadlineMs: guard.redisTimeoutMs })
        .then((screened) => {
          dropped.delete(address.address.toLowerCase());
          if (isRefusal(screened)) {
            if (screened.cause instanceof DeadlineExceeded)
              herald.metrics.smtpRedisTimeouts.inc({ stage: 'rcpt' });
            logger.warn(
              { err: (screened.cause as Error)?.message },
              'suppression lookup failed; answered 451',
            );
            guard.excuseNextError(session);
            return callback(toError(toReply(screened)));
          }
          const refused = screened.refused[0];
          if (refused) {
            guard.excuseNextError(session);
            return callback(toError(toReply(refused.refusal)));
          }
          for (const recipient of screened.dropped) dropped.set(recipient.address.toLowerCase(), recipient);
          callback();
        });
    },
    onData(stream, session, callback) {
      receiveData(dataContext, stream, session, callback);
    },
  });
  guard.attach(server);
  useOwnEnhancedCodes(server);
  return server;
}
