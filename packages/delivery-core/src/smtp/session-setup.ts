/**
 * Opening an outbound SMTP session, step by step, each within its deadline: the greeting, EHLO
 * (HELO when the server refuses EHLO with 5xx, RFC 5321 §3.2), STARTTLS (RFC 3207) and EHLO again
 * over TLS, and AUTH PLAIN / LOGIN (RFC 4954) for smarthosts. Each step throws a DeliveryError
 * whose reply names its stage; a `5xx` greeting defers, as a refusal of that server only
 * (Postfix's smtp_skip_5xx_greeting), and a refused AUTH defers (Postfix's
 * smtp_sasl_auth_soft_bounce): it never bounces mail for a credentials problem. Passwords never
 * appear in a reply or an error.
 */
import { DeliveryError, type SmtpReply, type SmtpStage, TransientError } from '../errors/index.js';
import { networkError, replyError, toSmtpReply, wireError } from './reply.js';
import type { RawReply } from './reply-reader.js';
import type { SessionTarget, SessionTimeouts } from './session-types.js';
import { type SmtpWire, WireFailure } from './wire.js';

/** What the server offered in its EHLO reply (all off after HELO). */
export interface Extensions {
  pipelining: boolean;
  /** SIZE offered (its limit, 0 = none declared); undefined when not offered. */
  size?: number;
  starttls: boolean;
  eightBitMime: boolean;
  smtputf8: boolean;
  /** RFC 3461 DSN: NOTIFY / ORCPT / RET / ENVID may be passed on. */
  dsn: boolean;
  /** AUTH mechanisms, upper-case. */
  auth: string[];
}

const NO_EXTENSIONS: Extensions = {
  pipelining: false,
  starttls: false,
  eightBitMime: false,
  smtputf8: false,
  dsn: false,
  auth: [],
};
/** "421 … closing transmission channel": the server is going away. */
const CLOSING_CODE = 421;
/** The enhanced code of a `5xx` greeting without one, once taken as temporary (Postfix's 4.0.0). */
const GREETING_REFUSED_ENHANCED = '4.0.0';

/** Writes `command` (when given) and reads the reply; a failed connection becomes a DeliveryError. */
export async function exchange(
  wire: SmtpWire,
  command: string | undefined,
  deadlineMs: number,
  stage: SmtpStage,
  host: string,
  what = command ? `the reply to ${command.split(' ')[0]}` : 'a reply',
  statedMs = deadlineMs,
): Promise<{ raw: RawReply; reply: SmtpReply }> {
  if (command !== undefined) wire.write(`${command}\r\n`);
  let raw: RawReply;
  try {
    raw = await wire.read(deadlineMs, what, statedMs);
  } catch (err) {
    throw err instanceof WireFailure ? wireError(err, stage, host) : err;
  }
  if (raw.code === CLOSING_CODE) wire.destroy('the server answered 421 (closing)');
  return { raw, reply: toSmtpReply(raw, stage, host) };
}

/** A reply that is not the one the step needs → the error to throw. */
function refused(reply: SmtpReply): DeliveryError {
  if (reply.code >= 400) return replyError(reply);
  return networkError(
    `unexpected reply ${reply.code} ${reply.text}`.trim(),
    reply.stage,
    reply.host,
    '4.4.2',
  );
}

/** Reads the greeting and says EHLO (or HELO). */
export async function greetAndHello(
  wire: SmtpWire,
  host: string,
  ehloName: string,
  timeouts: SessionTimeouts,
): Promise<Extensions> {
  const greeting = await exchange(wire, undefined, timeouts.greetingMs, 'greeting', host, 'the greeting');
  if (greeting.raw.code !== 220)
    throw refused(greeting.raw.code >= 500 ? greetingRefusal(greeting.reply) : greeting.reply);
  return hello(wire, host, ehloName, timeouts.commandMs);
}

/**
 * A `5xx` greeting as Postfix takes it by default (`smtp_skip_5xx_greeting = yes`): a refusal of
 * this server, not of the recipients (often a temporary block of the client's IP): `421`, its
 * enhanced code's class made 4, the server's reply kept in the text, so the next MX host gets the
 * recipients, and at the last one they are deferred, never bounced.
 */
function greetingRefusal(reply: SmtpReply): SmtpReply {
  const enhanced = reply.enhanced ? `4${reply.enhanced.slice(1)}` : GREETING_REFUSED_ENHANCED;
  const said = `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text}`.trim();
  return { ...reply, code: CLOSING_CODE, enhanced, text: `refused to talk to me: ${said}` };
}

async function hello(
  wire: SmtpWire,
  host: string,
  ehloName: string,
  deadlineMs: number,
): Promise<Extensions> {
  const ehlo = await exchange(wire, `EHLO ${ehloName}`, deadlineMs, 'ehlo', host);
  if (ehlo.raw.code === 250) return parseExtensions(ehlo.raw.lines);
  if (ehlo.raw.code < 500 || !wire.alive) throw refused(ehlo.reply);
  const helo = await exchange(wire, `HELO ${ehloName}`, deadlineMs, 'ehlo', host);
  if (helo.raw.code !== 250) throw refused(helo.reply);
  return NO_EXTENSIONS;
}

/**
 * STARTTLS when offered (required by `target.tls === 'require'`), then EHLO over TLS. In
 * opportunistic mode a refused STARTTLS carries on in plaintext; a failed handshake (or EHLO over
 * TLS) fails this connection (its state is unknown), marked so that session.ts may connect again
 * in plaintext (`plaintextAllowedAfter`), else the attempt moves to the next host.
 */
export async function startTls(
  wire: SmtpWire,
  target: SessionTarget,
  ehloName: string,
  timeouts: SessionTimeouts,
  ext: Extensions,
): Promise<Extensions> {
  const host = target.hostname;
  if (!ext.starttls) {
    if (target.tls !== 'require') return ext;
    throw networkError(`${host} does not offer STARTTLS`, 'starttls', host, '4.7.5');
  }
  const reply = await exchange(wire, 'STARTTLS', timeouts.commandMs, 'starttls', host);
  if (reply.raw.code !== 220) {
    if (target.tls === 'require' || !wire.alive) throw refused(reply.reply);
    return ext;
  }
  try {
    await wire.upgrade({
      hostname: host,
      verify: target.tlsVerify,
      ca: target.tlsCa,
      deadlineMs: timeouts.commandMs,
      check: target.peerCheck ? (chain) => target.peerCheck?.check(chain) : undefined,
    });
  } catch (err) {
    throw failedHandshake(err instanceof WireFailure ? wireError(err, 'starttls', host) : err);
  }
  try {
    return await hello(wire, host, ehloName, timeouts.commandMs);
  } catch (err) {
    // The EHLO over TLS lost in the TLS layer (cut, timed out); a reply (421, 5xx) is the server's word.
    throw err instanceof DeliveryError && err.fault === 'network' ? failedHandshake(err) : err;
  }
}

/**
 * Errors of a TLS handshake, or of the EHLO right after it when the connection failed under it:
 * the session over TLS never began.
 */
const handshakeFailures = new WeakSet<object>();

function failedHandshake(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) handshakeFailures.add(err);
  return err;
}

/**
 * May a session whose opportunistic TLS failed to begin (`err`) try the same address again in
 * plaintext? Only when nothing asked for more than opportunistic TLS: no certificate check, no
 * DANE peer check, no credentials to send (Postfix: not with SASL credentials for the host).
 */
export function plaintextAllowedAfter(target: SessionTarget, err: unknown): boolean {
  return (
    target.tls === 'opportunistic' &&
    !target.tlsVerify &&
    !target.peerCheck &&
    !target.auth &&
    typeof err === 'object' &&
    err !== null &&
    handshakeFailures.has(err)
  );
}

/** AUTH PLAIN (preferred) or LOGIN with a smarthost's credentials. */
export async function authenticate(
  wire: SmtpWire,
  host: string,
  auth: { username: string; password: string },
  deadlineMs: number,
  ext: Extensions,
): Promise<void> {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const step = (command: string, what: string) => exchange(wire, command, deadlineMs, 'auth', host, what);
  let last: SmtpReply;
  if (ext.auth.includes('PLAIN')) {
    const credentials = b64(`\0${auth.username}\0${auth.password}`);
    last = (await step(`AUTH PLAIN ${credentials}`, 'the reply to AUTH PLAIN')).reply;
  } else if (ext.auth.includes('LOGIN')) {
    last = (await step('AUTH LOGIN', 'the reply to AUTH LOGIN')).reply;
    if (last.code === 334) last = (await step(b64(auth.username), 'the reply to the AUTH LOGIN user')).reply;
    if (last.code === 334)
      last = (await step(b64(auth.password), 'the reply to the AUTH LOGIN password')).reply;
  } else {
    const text = `${host} offers no AUTH mechanism Herald speaks (PLAIN, LOGIN)`;
    throw new TransientError({ code: 451, enhanced: '4.7.0', text, stage: 'auth', host }, 'remote');
  }
  if (last.code === 235) return;
  // A credentials problem is ours to fix: defer, never bounce (the reply is the server's, no password).
  const text = `authentication failed: ${last.code} ${last.enhanced ?? ''} ${last.text}`.replace(/\s+/g, ' ');
  throw new TransientError({ code: 451, enhanced: '4.7.8', text, stage: 'auth', host }, 'remote');
}

/** The EHLO reply's lines after the first → the extensions Herald uses. */
export function parseExtensions(lines: readonly string[]): Extensions {
  const ext: Extensions = { ...NO_EXTENSIONS, auth: [] };
  for (const line of lines.slice(1)) {
    const [keyword = '', ...params] = line.trim().split(/[\s=]+/);
    switch (keyword.toUpperCase()) {
      case 'PIPELINING':
        ext.pipelining = true;
        break;
      case 'SIZE':
        ext.size = Number.parseInt(params[0] ?? '0', 10) || 0;
        break;
      case 'STARTTLS':
        ext.starttls = true;
        break;
      case '8BITMIME':
        ext.eightBitMime = true;
        break;
      case 'SMTPUTF8':
        ext.smtputf8 = true;
        break;
      case 'DSN':
        ext.dsn = true;
        break;
      case 'AUTH':
        for (const mechanism of params) ext.auth.push(mechanism.toUpperCase());
        break;
    }
  }
  return ext;
}
