/**
 * One delivery attempt for one (message, destination) to an ordered list of candidate hosts.
 * Connection-level failures (refused, timeout, 421 greeting, EHLO/STARTTLS/AUTH failure) move to
 * the next address and then the next MX within the same attempt (RFC 5321 §5.1), up to
 * `maxAddresses` addresses and `maxSessions` servers that answered (Postfix's limits, so a
 * destination with many dead MX hosts cannot hold one attempt for hours); once a transaction
 * starts, its per-recipient replies are final for this attempt, but for the recipients over the
 * server's limit per transaction, sent in further transactions (recipient-limit.ts).
 */
import { isIP } from 'node:net';
import { type DeliveryError, type SmtpReply, ThrottledError } from '../errors/index.js';
import type { SmtpPool } from './pool.js';
import { sendRest } from './recipient-limit.js';
import type { SmtpSession } from './session.js';
import type {
  PeerCheck,
  RecipientOutcome,
  SessionLimits,
  SessionTarget,
  TlsMode,
  TransactionOptions,
} from './session-types.js';

export interface CandidateHost {
  hostname: string;
  addresses: string[];
  port: number;
  /** This host's own TLS policy (DANE), over the request's TLS settings; absent = the request's. */
  tls?: HostTls;
}

/**
 * One host's TLS policy (DANE, RFC 7672): `tls` (require with usable TLSA records), the check that
 * replaces PKIX verification, who requires it ("DANE", named in replies: a failed STARTTLS or check
 * is 451 4.7.5, never plaintext); `refuse`: the host is not used this attempt (its TLSA lookup
 * failed) and the reply is recorded as its host error, with no connection.
 */
export interface HostTls {
  tls: TlsMode;
  peerCheck?: PeerCheck;
  requiredBy: string;
  refuse?: SmtpReply;
}

export interface AttemptRequest extends SessionLimits {
  from: string;
  recipients: string[];
  body: Buffer;
  hosts: CandidateHost[];
  tls: TlsMode;
  tlsVerify: boolean;
  tlsCa?: readonly string[] | undefined;
  /**
   * Who requires TLS, named in the reply when it fails ("MTA-STS"); default "TLS required". With
   * `tls: 'require'` a failed STARTTLS or certificate check is 451 4.7.5, never a bounce.
   */
  tlsRequiredBy?: string | undefined;
  localAddress?: string;
  ehloName?: string;
  auth?: { username: string; password: string };
  /** Addresses tried at most in this attempt (Postfix's smtp_mx_address_limit); default no limit. */
  maxAddresses?: number;
  /** Servers that answered (sessions) used at most (Postfix's smtp_mx_session_limit); default no limit. */
  maxSessions?: number;
  /**
   * Takes one message of the destination's rate (shaping's max_message_rate) for a further
   * transaction of this attempt (the recipients over a server's limit per transaction; each VERP
   * transaction after the first), waiting for one a while: false when none came in time, and
   * those recipients wait for the next attempt.
   * Absent: no rate applies. The attempt's first transaction took its message at admission.
   */
  messageSlot?: (() => Promise<boolean>) | undefined;
  /** The DSN request, SMTPUTF8 flag and 8-bit conversion of the transaction (session-types.ts). */
  transaction?: TransactionOptions;
}

export interface AttemptReport {
  /** The host that ran the transaction, when one was reached. */
  host?: AttemptHost;
  recipients: RecipientOutcome[];
  /** Connection-level failures met on the way, in order (`localAddress`: our end, when connected). */
  hostErrors: { hostname: string; address: string; reply: SmtpReply; localAddress?: string }[];
  durationMs: number;
  /**
   * Set when the attempt ended on a connection-level failure — no host could be reached, or the
   * transaction ended with a lost or timed-out connection or a 421 (concurrency feedback: shrink
   * the site) —: the reply that says why, never a recipient's own refusal met before it.
   */
  connectionReply?: SmtpReply;
  /** Set when no connection could be had under the site's limits: come back then (no attempt). */
  throttled?: { until: number; reply: SmtpReply };
}

/** The host that ran the transaction, with its TLS details when the session was encrypted. */
export interface AttemptHost {
  hostname: string;
  address: string;
  port: number;
  tls: boolean;
  /** Our end of the connection (the local IP). */
  localAddress?: string;
  tlsVersion?: string;
  tlsCipher?: string;
  tlsVerified?: boolean;
  /** What verified the certificate instead of PKIX ("DANE"). */
  tlsVerifiedBy?: string;
  /** Opportunistic TLS failed to begin (why) and the transaction ran in plaintext on a new connection. */
  tlsFallback?: string;
}

/** "421 … closing transmission channel" (RFC 5321 §3.8): the server is going away. */
const CLOSING_CODE = 421;
/** Stage at which a failure allows trying the next host. */
const NEXT_HOST_STAGES = new Set(['connect', 'greeting', 'ehlo', 'starttls', 'auth']);

export async function deliverAttempt(pool: SmtpPool, request: AttemptRequest): Promise<AttemptReport> {
  const started = Date.now();
  const hostErrors: AttemptReport['hostErrors'] = [];
  let lastReply: SmtpReply | undefined;
  let addressesTried = 0;
  let sessions = 0;
  const failed = (host: CandidateHost, address: string, err: DeliveryError) => {
    const hostname = host.hostname;
    lastReply = tlsRequiredReply(request, host, err.reply);
    hostErrors.push({
      hostname,
      address,
      reply: lastReply,
      ...(err.localAddress ? { localAddress: err.localAddress } : {}),
    });
    if (err.reply.stage !== 'connect') sessions++;
  };
  const exhausted = () =>
    addressesTried >= (request.maxAddresses ?? Number.POSITIVE_INFINITY) ||
    sessions >= (request.maxSessions ?? Number.POSITIVE_INFINITY);
  hosts: for (const host of request.hosts) {
    if (host.tls?.refuse) {
      lastReply = host.tls.refuse;
      hostErrors.push({ hostname: host.hostname, address: host.addresses[0] ?? '', reply: lastReply });
      continue;
    }
    for (const address of host.addresses) {
      // A bound source only reaches addresses of its own family (an IPv4 source, IPv4 MX addresses).
      if (request.localAddress && isIP(address) !== isIP(request.localAddress)) continue;
      if (exhausted()) break hosts;
      addressesTried++;
      const target: SessionTarget = {
        address,
        port: host.port,
        hostname: host.hostname,
        ...tlsOf(request, host),
        ...(request.localAddress ? { localAddress: request.localAddress } : {}),
        ...(request.ehloName ? { ehloName: request.ehloName } : {}),
        ...(request.auth ? { auth: request.auth } : {}),
        ...sessionLimits(request),
      };
      let session: Awaited<ReturnType<SmtpPool['acquire']>>;
      try {
        session = await pool.acquire(target);
      } catch (err) {
        if (err instanceof ThrottledError) return throttledReport(err, hostErrors, started);
        failed(host, address, err as DeliveryError);
        continue;
      }
      let result = await session.send(request.from, request.recipients, request.body, request.transaction);
      if (droppedWhileIdle(result.error, session)) {
        // A pooled connection the server had already dropped: retry once on a fresh one.
        void pool.release(session, false);
        try {
          session = await pool.acquire(target, { fresh: true });
        } catch (err) {
          if (err instanceof ThrottledError) return throttledReport(err, hostErrors, started);
          failed(host, address, err as DeliveryError);
          continue;
        }
        result = await session.send(request.from, request.recipients, request.body, request.transaction);
      }
      // Recipients over the server's limit per transaction go in further ones (recipient-limit.ts).
      const send = (on: SmtpSession, rest: string[]) =>
        on.send(request.from, rest, request.body, request.transaction);
      const further = { pool, target, send, messageSlot: request.messageSlot };
      const rest = await sendRest(further, session, result);
      ({ result, session } = rest);
      if (rest.held) void pool.release(session, await session.readyForReuse());
      if (rest.hostError) failed(host, address, rest.hostError);
      if (result.error && NEXT_HOST_STAGES.has(result.error.reply.stage)) {
        result.error.localAddress ??= session.localAddress;
        failed(host, address, result.error);
        continue;
      }
      const connectionReply =
        result.error?.fault === 'network'
          ? result.error.reply
          : (rest.hostError?.reply ?? result.recipients.find((r) => r.reply.code === CLOSING_CODE)?.reply);
      return {
        host: attemptHost(host, address, session),
        recipients: result.recipients,
        hostErrors,
        durationMs: Date.now() - started,
        ...(connectionReply ? { connectionReply } : {}),
      };
    }
  }
  const reply: SmtpReply = lastReply ?? {
    code: 451,
    enhanced: '4.4.4',
    text: 'no host to deliver to',
    stage: 'connect',
  };
  return {
    recipients: request.recipients.map((address) => ({ address, accepted: false, reply })),
    hostErrors,
    durationMs: Date.now() - started,
    ...(hostErrors.length > 0 ? { connectionReply: reply } : {}),
  };
}

/**
 * A reused connection that failed before the server answered MAIL (it had closed it while idle):
 * nothing of this transaction reached the server, so a fresh connection may try it at once.
 */
function droppedWhileIdle(error: DeliveryError | undefined, session: SmtpSession): boolean {
  return error?.fault === 'network' && error.reply.stage === 'mail' && session.messagesSent > 1;
}

function attemptHost(host: CandidateHost, address: string, session: SmtpSession): AttemptHost {
  const out: AttemptHost = { hostname: host.hostname, address, port: host.port, tls: session.tlsActive };
  if (session.localAddress) out.localAddress = session.localAddress;
  if (session.tlsFallback) out.tlsFallback = session.tlsFallback;
  const details = session.tlsDetails;
  if (details) {
    out.tlsVersion = details.version;
    out.tlsCipher = details.cipher;
    out.tlsVerified = details.verified;
    if (details.verifiedBy) out.tlsVerifiedBy = details.verifiedBy;
  }
  return out;
}

/** The TLS settings of a session to `host`: its own policy (DANE) when it has one, else the request's. */
function tlsOf(
  request: AttemptRequest,
  host: CandidateHost,
): Pick<SessionTarget, 'tls' | 'tlsVerify' | 'tlsCa' | 'peerCheck'> {
  if (host.tls) {
    // DANE replaces PKIX: the records, not a CA, say which certificate is right (RFC 7672 §3.1).
    return {
      tls: host.tls.tls,
      tlsVerify: false,
      ...(host.tls.peerCheck ? { peerCheck: host.tls.peerCheck } : {}),
    };
  }
  return {
    tls: request.tls,
    tlsVerify: request.tlsVerify,
    ...(request.tlsCa ? { tlsCa: request.tlsCa } : {}),
  };
}

/** With TLS required, a failed STARTTLS or certificate check defers (451 4.7.5) and says who requires it. */
function tlsRequiredReply(request: AttemptRequest, host: CandidateHost, reply: SmtpReply): SmtpReply {
  const hostname = host.hostname;
  if ((host.tls?.tls ?? request.tls) !== 'require' || reply.stage !== 'starttls') return reply;
  const by = host.tls?.requiredBy ?? request.tlsRequiredBy ?? 'TLS required';
  const text = `${by}: STARTTLS with ${hostname} failed: ${reply.text}`;
  return { code: 451, enhanced: '4.7.5', text, stage: 'starttls', host: hostname };
}

/** No connection could be had under the site's limits: nothing was attempted. */
function throttledReport(
  err: ThrottledError,
  hostErrors: AttemptReport['hostErrors'],
  started: number,
): AttemptReport {
  return {
    recipients: [],
    hostErrors,
    durationMs: Date.now() - started,
    throttled: { until: err.until, reply: err.reply },
  };
}

/** The SessionLimits fields that are set in `request`. */
function sessionLimits(request: SessionLimits): SessionLimits {
  const limits: SessionLimits = {};
  if (request.maxMessagesPerConnection) limits.maxMessagesPerConnection = request.maxMessagesPerConnection;
  if (request.maxConnections) limits.maxConnections = request.maxConnections;
  if (request.site) limits.site = request.site;
  if (request.siteMaxConnections) limits.siteMaxConnections = request.siteMaxConnections;
  if (request.siteConnectionRate) limits.siteConnectionRate = request.siteConnectionRate;
  if (request.timeouts) limits.timeouts = request.timeouts;
  return limits;
}
