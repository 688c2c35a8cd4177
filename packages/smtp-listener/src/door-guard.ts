/**
 * The door at an SMTP listener (the relay's submission, the bounce-processor's): a thin adapter from delivery-core's `door` (pure
 * accounting) to smtp-server. It owns one ClientDoor per listener and one SessionCounters per
 * connection, and guarantees:
 * - connect: a client over `client_limits` (connections at once, new connections per time unit,
 *   blocked) gets `421 4.7.0` and is closed at once; `client_limited` event (de-duplicated) and
 *   `herald_smtp_refusals_total{reason}`;
 * - AUTH is not advertised before STARTTLS (and answered `538 5.7.11`) to clients outside
 *   `plaintext_auth_networks` when `require_auth_tls`;
 * - AUTH: a blocked client gets `421 4.7.0`; every reply waits the door's tarpit delay; the
 *   session's `auth_failures_per_session`-th failure, or the client's `auth_failure_limit`-th
 *   (which blocks it: `client_blocked` event), answers `421 4.7.0` and closes; never a password
 *   or user name in an event, a metric or a log line;
 * - every command and error reply is counted: junk past `junk_command_limit` and errors at
 *   `hard_error_limit` answer `421 4.7.0` and close; past `soft_error_limit` commands wait. A
 *   refusal about a recipient (suppressed, bad syntax, over max_recipients) or our own 451 is
 *   excused by the caller (`excuseNextError`): it says nothing about the client;
 * - DATA: past `data_timeout`, or below `data_min_rate` after `data_rate_grace`, `421 4.4.2` and
 *   close (the caller spools nothing of an aborted transfer).
 * Per process, in memory. Needs injected: the `smtp` config section, the event sink, the metrics.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeraldConfig } from '@herald/delivery-core';
import { compileTrustedNetworks } from '@herald/delivery-core/config';
import {
  type ClientDoor,
  clientKey,
  DATA_PACE_CHECK_MS,
  type DataPaceVerdict,
  type DoorRefusal,
  type DoorTicket,
  dataPaceVerdict,
  doorFromSmtpConfig,
  SessionCounters,
} from '@herald/delivery-core/door';
import type { HeraldEvent } from '@herald/delivery-core/events';
import type { HeraldMetrics } from '@herald/delivery-core/metrics';
import type { Logger } from 'pino';
import type { SMTPServer, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { CommandDeadlines } from './command-deadline.js';
import { installOnePassUnstuffing } from './data-unstuffing.js';
import { DOOR_REPLIES, type EnhancedReply } from './door-replies.js';
import { smtpError } from './enhanced-codes.js';
import { attachSmtpHooks, type SmtpConnectionControl, type SmtpReplyLine } from './smtp-hooks.js';

/** The listener is under stress (short command deadline) from this share of max_clients on. */
const STRESS_FRACTION = 0.8;
/**
 * smtp-server's own maxClients is set this far above the door's, so the door answers the client
 * over the limit (421 4.7.0, counted) and smtp-server's bare 421 is only a backstop.
 */
export const SERVER_MAX_CLIENTS_SLACK = 16;

export interface DoorGuardOptions {
  smtp: HeraldConfig['smtp'];
  /** Connections the listener takes at once (the door answers the next one 421 4.7.0). */
  maxClients: number;
  /** Whether STARTTLS is offered (a certificate is configured). */
  tls: boolean;
  events: { emit(event: HeraldEvent): void };
  metrics: HeraldMetrics;
  logger: Logger;
  /**
   * Screens a command as the client wrote it, before smtp-server parses it (which decodes and
   * loses what the application would refuse): a reply to answer instead, or undefined.
   */
  screen?(name: string, line: string): SmtpReplyLine | undefined;
  now?: () => number;
}

export interface DataWatch {
  /** The transfer ended (or the connection did): stop watching. */
  stop(): void;
  /** Why the transfer was cut, once it was. */
  readonly aborted: DataPaceVerdict | undefined;
}

export interface DoorGuard {
  readonly door: ClientDoor;
  /** smtp.redis_timeout: the deadline of each Redis call in a session. */
  readonly redisTimeoutMs: number;
  /** Installs the per-command and per-reply hooks on `server`. */
  attach(server: SMTPServer): void;
  onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void;
  onSecure(socket: unknown, session: SMTPServerSession, callback: (err?: Error | null) => void): void;
  onClose(session: SMTPServerSession): void;
  /** Before an AUTH is verified: the refusal for a blocked client, or undefined. */
  authBlocked(session: SMTPServerSession): EnhancedReply | undefined;
  /** After it was verified: records it, waits the tarpit delay, and gives a closing reply or undefined. */
  authSettled(session: SMTPServerSession, username: string, ok: boolean): Promise<EnhancedReply | undefined>;
  /**
   * Runs one AUTH check in turn with the other AUTH attempts from the same client (address or
   * IPv6 network): parallel guesses wait for each other, so each sees the failures and the block
   * of those before it, and the tarpit delays add up.
   */
  authInTurn<T>(session: SMTPServerSession, run: () => Promise<T>): Promise<T>;
  /** The next error reply of this session is not the client's fault: do not count it. */
  excuseNextError(session: SMTPServerSession): void;
  mailAccepted(session: SMTPServerSession): void;
  messageAccepted(session: SMTPServerSession): void;
  watchData(session: SMTPServerSession, stream: SMTPServerDataStream): DataWatch;
}

interface SessionState {
  ticket: DoorTicket;
  counters: SessionCounters;
  /** AUTH hidden and refused until STARTTLS. */
  authNeedsTls: boolean;
  /** The next error reply is excused (see excuseNextError). */
  excused: boolean;
  control?: SmtpConnectionControl;
}

const REFUSAL_REPLIES: Record<DoorRefusal, EnhancedReply> = {
  blocked: DOOR_REPLIES.clientBlocked,
  connections: DOOR_REPLIES.tooManyConnections,
  connection_rate: DOOR_REPLIES.connectionRate,
};

const line = (reply: EnhancedReply): SmtpReplyLine => ({
  code: reply.code,
  text: `${reply.enhanced} ${reply.text}`,
});
const toError = (reply: EnhancedReply) => smtpError(reply.code, reply.enhanced, reply.text);

export function createDoorGuard(options: DoorGuardOptions): DoorGuard {
  const { smtp, events, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const settings = doorFromSmtpConfig(smtp, now);
  const { door } = settings;
  const plaintextAuth = compileTrustedNetworks(smtp.plaintext_auth_networks);
  const knownUsers = new Set(smtp.users.map((u) => u.username));
  const serverDisabled = options.tls ? [] : ['STARTTLS'];
  const sessions = new Map<string, SessionState>();
  const refused = (reason: string) => metrics.smtpRefusals.inc({ reason });
  const authTurns = new Map<string, Promise<unknown>>();
  const deadlines = new CommandDeadlines({
    normalMs: smtp.command_timeout,
    stressMs: smtp.stress_command_timeout,
    stressAt: Math.max(1, Math.ceil(options.maxClients * STRESS_FRACTION)),
    now,
    expire(connection) {
      refused('command_timeout');
      const reply = line(DOOR_REPLIES.commandTimeout);
      const conn = connection as SmtpConnectionControl;
      conn.reply(reply.code, reply.text);
      conn.close();
    },
  });

  return {
    door,
    redisTimeoutMs: settings.redisTimeoutMs,
    attach(server) {
      // DATA's escape dots in one pass per chunk, so a dot-heavy body is not "too slow" (below).
      installOnePassUnstuffing();
      attachSmtpHooks(server, {
        connected(conn) {
          deadlines.start(conn.session.id, conn);
        },
        command(conn, name, text) {
          deadlines.commandArrived(conn.session.id);
          const state = sessions.get(conn.session.id);
          if (!state) return undefined;
          state.control = conn;
          const verdict = state.counters.command(name);
          if ('limit' in verdict) {
            refused(verdict.limit);
            return { ...line(DOOR_REPLIES.junkCommands), close: true };
          }
          if (name === 'AUTH' && state.authNeedsTls)
            return { ...line(DOOR_REPLIES.authNeedsTls), close: false };
          // Screened before a tarpit's delay (a delayed command is not shown again); its error
          // reply still counts towards the error limit.
          const screened = options.screen?.(name, text);
          if (screened) return { ...screened, close: false };
          return verdict.delayMs > 0 ? verdict : undefined;
        },
        reply(conn) {
          const state = sessions.get(conn.session.id);
          if (state?.excused) {
            state.excused = false;
            return undefined;
          }
          const limit = state?.counters.error();
          if (!limit) return undefined;
          refused(limit);
          return line(DOOR_REPLIES.tooManyErrors);
        },
      });
    },
    onConnect(session, callback) {
      if (sessions.size >= options.maxClients) {
        refused('max_clients');
        callback(toError(DOOR_REPLIES.tooManyClients));
        return;
      }
      const admission = door.admit(session.remoteAddress);
      if (!admission.admitted) {
        refused(admission.reason);
        if (admission.report) {
          logger.info({ client: admission.client, reason: admission.reason }, 'client refused at the door');
          events.emit({
            type: 'client_limited',
            time: now(),
            client: admission.client,
            reason: admission.reason,
          });
        }
        callback(toError(REFUSAL_REPLIES[admission.reason]));
        return;
      }
      const authNeedsTls = smtp.require_auth_tls && !session.secure && !plaintextAuth(session.remoteAddress);
      if (authNeedsTls) session.disabledCommands = [...serverDisabled, 'AUTH'];
      sessions.set(session.id, {
        ticket: admission.ticket,
        counters: new SessionCounters(settings.session),
        authNeedsTls,
        excused: false,
      });
      callback();
    },
    onSecure(_socket, session, callback) {
      const state = sessions.get(session.id);
      if (state?.authNeedsTls) {
        state.authNeedsTls = false;
        delete session.disabledCommands;
      }
      callback();
    },
    onClose(session) {
      deadlines.stop(session.id);
      const state = sessions.get(session.id);
      if (!state) return;
      sessions.delete(session.id);
      door.leave(state.ticket);
    },
    authBlocked(session) {
      if (!door.isBlocked(session.remoteAddress)) return undefined;
      refused('blocked');
      return DOOR_REPLIES.clientBlocked;
    },
    async authSettled(session, username, ok) {
      const state = sessions.get(session.id);
      const outcome = door.authResult(
        session.remoteAddress,
        knownUsers.has(username) ? username : undefined,
        ok,
      );
      let closing: EnhancedReply | undefined;
      if (ok) state?.counters.progressed();
      else metrics.authFailures.inc();
      if (outcome.blockedUntil !== undefined) {
        refused('auth_failures');
        logger.warn(
          { client: outcome.client, until: outcome.blockedUntil },
          'client blocked after AUTH failures',
        );
        events.emit({
          type: 'client_blocked',
          time: now(),
          client: outcome.client,
          reason: 'auth_failures',
          until: outcome.blockedUntil,
        });
        closing = DOOR_REPLIES.clientBlocked;
      } else if (!ok && state?.counters.authFailed()) {
        refused('auth_failures');
        closing = DOOR_REPLIES.authFailuresInSession;
      }
      if (outcome.delayMs > 0) await sleep(outcome.delayMs);
      return closing;
    },
    authInTurn(session, run) {
      const key = clientKey(session.remoteAddress, smtp.client_limits.ipv6_prefix);
      const mine = (authTurns.get(key) ?? Promise.resolve()).then(run);
      const tail = mine.then(
        () => undefined,
        () => undefined,
      );
      authTurns.set(key, tail);
      void tail.then(() => {
        if (authTurns.get(key) === tail) authTurns.delete(key);
      });
      return mine;
    },
    excuseNextError(session) {
      const state = sessions.get(session.id);
      if (state) state.excused = true;
    },
    mailAccepted(session) {
      sessions.get(session.id)?.counters.progressed();
    },
    messageAccepted(session) {
      sessions.get(session.id)?.counters.delivered();
    },
    watchData(session, stream) {
      const startedAt = now();
      let aborted: DataPaceVerdict | undefined;
      const timer = setInterval(() => {
        const verdict = dataPaceVerdict(startedAt, now(), stream.byteLength ?? 0, settings.data);
        if (!verdict) return;
        clearInterval(timer);
        aborted = verdict;
        refused(verdict);
        const reply = line(verdict === 'data_timeout' ? DOOR_REPLIES.dataTimeout : DOOR_REPLIES.dataTooSlow);
        const control = sessions.get(session.id)?.control;
        if (control) control.reply(reply.code, reply.text);
        else stream.destroy(new Error(reply.text));
      }, DATA_PACE_CHECK_MS);
      timer.unref();
      return {
        stop: () => clearInterval(timer),
        get aborted() {
          return aborted;
        },
      };
    },
  };
}
