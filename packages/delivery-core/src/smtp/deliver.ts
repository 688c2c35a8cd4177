/**
 * One delivery attempt for one (message, destination) to an ordered list of candidate hosts, as
 * Postfix's smtp(8) makes it. A connection-level failure (refused, timeout, 421 greeting,
 * EHLO/STARTTLS/AUTH failure) moves to the next address and then the next MX in the same attempt
 * (RFC 5321 §5.1); so does a recoverable failure once a transaction started (next-host.ts): the
 * recipients a server deferred — a 4xx to MAIL, to their RCPT, to DATA or the end of data, a 421,
 * a connection lost before the final dot — go on to the next host, while those it delivered or
 * refused for good (5xx) are done there, never sent twice; a connection lost after the final dot
 * ends the attempt (that server may have the message). All within `maxAddresses` addresses and
 * `maxSessions` servers that completed the handshake (Postfix's smtp_mx_address_limit /
 * smtp_mx_session_limit),
 * so a destination with many failing MX hosts cannot hold one attempt for hours; what is left
 * then waits with the last host's reply, and every host's error is in the report. At each host
 * the recipients over its limit per transaction go in further transactions (recipient-limit.ts);
 * a transaction at a later host once someone was delivered is a further message of the
 * destination's rate (`messageSlot`). A host's session goes back to the pool per its state.
 * Each (address, port) is tried at most once per attempt: an address listed under two MX names
 * (or under an MX name and the domain itself) is tried at its first host only, and its repeats
 * spend none of `maxAddresses` / `maxSessions` (a server that deferred recipients is not asked
 * again under another name); the one retry on a fresh connection when a pooled one had been
 * dropped (`droppedWhileIdle`) is part of that one try.
 */
import { isIP, SocketAddress } from 'node:net';
import { type DeliveryError, type SmtpReply, ThrottledError } from '../errors/index.js';
import type { AttemptHost, AttemptReport, AttemptRequest, CandidateHost } from './attempt-types.js';
import { judgeHost } from './next-host.js';
import type { SmtpPool } from './pool.js';
import { noMessageSlotReply, type RestSent, sendRest } from './recipient-limit.js';
import type { SmtpSession } from './session.js';
import type { RecipientOutcome, SessionLimits, SessionTarget, TransactionResult } from './session-types.js';

/** "421 … closing transmission channel" (RFC 5321 §3.8): the server is going away. */
const CLOSING_CODE = 421;
/**
 * A server that failed here never completed the SMTP handshake: like Postfix (2.3 and later), it
 * does not count as a session (`maxSessions`), only as an address (`maxAddresses`): two overloaded
 * MX hosts answering 421 do not keep a healthy third one out.
 */
const HANDSHAKE_STAGES: ReadonlySet<string> = new Set(['connect', 'greeting', 'ehlo', 'starttls']);
/** The reply of recipients no host was tried for. */
const NO_HOST_REPLY: SmtpReply = {
  code: 451,
  enhanced: '4.4.4',
  text: 'no host to deliver to',
  stage: 'connect',
};

/** What became of one address: no connection under the site's limits, a failure, or transactions. */
type AtAddress =
  | { kind: 'throttled'; error: ThrottledError }
  | { kind: 'failed'; error: DeliveryError }
  | { kind: 'ran'; result: TransactionResult; session: SmtpSession; rest: RestSent; released: Promise<void> };

export async function deliverAttempt(pool: SmtpPool, request: AttemptRequest): Promise<AttemptReport> {
  const started = Date.now();
  const hostErrors: AttemptReport['hostErrors'] = [];
  /** Each recipient's last outcome; `pending`: those still to try at the next host. */
  const outcomes = new Map<string, RecipientOutcome>();
  let pending = request.recipients;
  /** The host of the last transaction, and the connection-level reply the attempt ended on. */
  let ranOn: AttemptHost | undefined;
  let endedOn: SmtpReply | undefined;
  let addressesTried = 0;
  /** The (address, port) pairs already tried in this attempt (`endpointKey`). */
  const tried = new Set<string>();
  let sessions = 0;
  /** Someone was delivered: a transaction at another host is a further message of the rate. */
  let delivered = false;
  let slotHeld = false;
  const defer = (reply: SmtpReply) => {
    for (const address of pending) outcomes.set(address, { address, accepted: false, reply });
  };
  const hostError = (host: CandidateHost, address: string, reply: SmtpReply, localAddress?: string) =>
    hostErrors.push({ hostname: host.hostname, address, reply, ...(localAddress ? { localAddress } : {}) });
  const unreached = (host: CandidateHost, address: string, err: DeliveryError) => {
    const reply = tlsRequiredReply(request, host, err.reply);
    hostError(host, address, reply, err.localAddress);
    if (!HANDSHAKE_STAGES.has(reply.stage)) sessions++;
    endedOn = reply;
    defer(reply);
  };
  const exhausted = () =>
    addressesTried >= (request.maxAddresses ?? Number.POSITIVE_INFINITY) ||
    sessions >= (request.maxSessions ?? Number.POSITIVE_INFINITY);
  hosts: for (const host of request.hosts) {
    if (host.tls?.refuse) {
      hostError(host, host.addresses[0] ?? '', host.tls.refuse);
      endedOn = host.tls.refuse;
      defer(host.tls.refuse);
      continue;
    }
    for (const address of host.addresses) {
      // A bound source only reaches addresses of its own family (an IPv4 source, IPv4 MX addresses).
      if (request.localAddress && isIP(address) !== isIP(request.localAddress)) continue;
      const endpoint = endpointKey(address, host.port);
      if (tried.has(endpoint)) continue;
      if (exhausted()) break hosts;
      if (delivered && !slotHeld && request.messageSlot) {
        // A limiter that cannot answer (Redis down) gives no message: they wait, never over the rate.
        if (!(await request.messageSlot().catch(() => false))) {
          defer(noMessageSlotReply(host.hostname));
          break hosts;
        }
        slotHeld = true;
      }
      addressesTried++;
      tried.add(endpoint);
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
      const at = await transactAt(pool, request, target, pending);
      if (at.kind === 'throttled') {
        // No connection under the site's limits: no attempt, unless a transaction already ran.
        if (!ranOn) return throttledReport(at.error, hostErrors, started);
        defer(at.error.reply);
        break hosts;
      }
      if (at.kind === 'failed') {
        unreached(host, address, at.error);
        continue;
      }
      const { result, session, rest } = at;
      sessions++;
      slotHeld = false;
      ranOn = attemptHost(host, address, session);
      if (rest.hostError) hostError(host, address, rest.hostError.reply, rest.hostError.localAddress);
      for (const outcome of result.recipients) outcomes.set(outcome.address, outcome);
      delivered ||= result.recipients.some((r) => r.accepted);
      endedOn =
        result.error?.fault === 'network'
          ? result.error.reply
          : (rest.hostError?.reply ?? result.recipients.find((r) => r.reply.code === CLOSING_CODE)?.reply);
      const verdict = judgeHost(result, rest.heldBack);
      if (verdict.onward.length === 0) break hosts;
      for (const reply of verdict.errors) hostError(host, address, reply, session.localAddress);
      pending = verdict.onward;
      // Its site lease is free before another host of the site is asked for a connection.
      await at.released;
    }
  }
  return {
    ...(ranOn ? { host: ranOn } : {}),
    recipients: request.recipients.map(
      (address) => outcomes.get(address) ?? { address, accepted: false, reply: NO_HOST_REPLY },
    ),
    hostErrors,
    durationMs: Date.now() - started,
    ...(endedOn ? { connectionReply: endedOn } : {}),
  };
}

/**
 * The transactions for `recipients` at one address: on a pooled or new session (once more on a
 * fresh one when a pooled one turns out dropped), then the recipients over the server's limit in
 * further ones. The session goes back to the pool per its state (`released`: once it has).
 */
async function transactAt(
  pool: SmtpPool,
  request: AttemptRequest,
  target: SessionTarget,
  recipients: string[],
): Promise<AtAddress> {
  const refused = (err: unknown): AtAddress =>
    err instanceof ThrottledError
      ? { kind: 'throttled', error: err }
      : { kind: 'failed', error: err as DeliveryError };
  let session: SmtpSession;
  try {
    session = await pool.acquire(target);
  } catch (err) {
    return refused(err);
  }
  const send = (on: SmtpSession, to: string[]) =>
    on.send(request.from, to, request.body, request.transaction);
  let result = await send(session, recipients);
  if (droppedWhileIdle(result.error, session)) {
    // A pooled connection the server had already dropped: retry once on a fresh one.
    void pool.release(session, false);
    try {
      session = await pool.acquire(target, { fresh: true });
    } catch (err) {
      return refused(err);
    }
    result = await send(session, recipients);
  }
  // Recipients over the server's limit per transaction go in further ones (recipient-limit.ts).
  const rest = await sendRest({ pool, target, send, messageSlot: request.messageSlot }, session, result);
  const last = rest.session;
  const released = rest.held ? pool.release(last, await last.readyForReuse()) : Promise.resolve();
  return { kind: 'ran', result: rest.result, session: last, rest, released };
}

/**
 * A reused connection that failed before the server answered MAIL (it had closed it while idle):
 * nothing of this transaction reached the server, so a fresh connection may try it at once.
 */
function droppedWhileIdle(error: DeliveryError | undefined, session: SmtpSession): boolean {
  return error?.fault === 'network' && error.reply.stage === 'mail' && session.messagesSent > 1;
}

/** One (address, port) whatever the address's spelling (IPv6 in its canonical form). */
function endpointKey(address: string, port: number): string {
  const canonical =
    isIP(address) === 6 && !address.includes('%')
      ? new SocketAddress({ address, family: 'ipv6' }).address
      : address.toLowerCase();
  return `${canonical} ${port}`;
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
