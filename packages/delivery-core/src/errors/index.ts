/**
 * The closed set of errors Herald raises. Two families:
 *
 * - Delivery outcomes (`DeliveryError` subclasses) answer "retry?" and "whose fault?" for one
 *   delivery attempt: `TransientError` (retry per schedule), `PermanentError` (bounce),
 *   `ThrottledError` (reschedule at `until`, no attempt spent) and `LocalFaultError` (our bug or
 *   config; alert an operator, retry later). Each carries the SMTP-shaped reply that explains it.
 *   Nothing else may leave a delivery attempt: `toDeliveryError` wraps anything unexpected.
 * - `HeraldError`: config, API and CLI errors with a stable `HERALD_*` code that the docs list.
 */

/** The SMTP protocol stage a reply or failure belongs to. */
export type SmtpStage =
  | 'dns'
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'starttls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'queue'
  | 'local';

/** A reply as Herald records it, whether a remote server sent it or Herald synthesised it. */
export interface SmtpReply {
  /** Basic status code, e.g. 250, 421, 550. */
  code: number;
  /** Enhanced status code (RFC 3463) without the leading code, e.g. "5.1.1"; absent when unknown. */
  enhanced?: string;
  /** Human-readable text, single line. */
  text: string;
  stage: SmtpStage;
  /** Remote host name or address the reply came from, when it came over the wire. */
  host?: string;
}

export type DeliveryErrorKind = 'transient' | 'permanent' | 'throttled' | 'local-fault';

/** Whose fault a failure is: the remote side, the destination's DNS, the network, or us. */
export type Fault = 'remote' | 'dns' | 'network' | 'local';

export abstract class DeliveryError extends Error {
  abstract readonly kind: DeliveryErrorKind;
  readonly reply: SmtpReply;
  readonly fault: Fault;
  /**
   * Our end of the connection the failure happened on (its local IP), when one was made: set once
   * by the SMTP session that met it (a TLS report's `sending-mta-ip`).
   */
  localAddress?: string;
  constructor(reply: SmtpReply, fault: Fault, options?: { cause?: unknown }) {
    super(formatReply(reply), options);
    this.reply = reply;
    this.fault = fault;
    this.name = new.target.name;
  }
  /** True when the same work should be tried again later. */
  get retry(): boolean {
    return this.kind !== 'permanent';
  }
}

/** Try again per the retry schedule (4xx, timeouts, refused connections, SERVFAIL). */
export class TransientError extends DeliveryError {
  readonly kind = 'transient' as const;
}

/** Give up now and bounce (5xx, NXDOMAIN, null MX). */
export class PermanentError extends DeliveryError {
  readonly kind = 'permanent' as const;
}

/** A local limit said "not now": reschedule at `until` (epoch ms) without spending an attempt. */
export class ThrottledError extends DeliveryError {
  readonly kind = 'throttled' as const;
  readonly until: number;
  constructor(reply: SmtpReply, until: number, options?: { cause?: unknown }) {
    super(reply, 'local', options);
    this.until = until;
  }
}

/** Our bug or our configuration: retry later, and tell an operator. */
export class LocalFaultError extends DeliveryError {
  readonly kind = 'local-fault' as const;
}

/** "421 4.4.1 text" — the one-line form used in logs and DSNs. */
export function formatReply(reply: SmtpReply): string {
  return [reply.code, reply.enhanced, reply.text]
    .filter((part) => part !== undefined && part !== '')
    .join(' ');
}

/** Wraps anything thrown during a delivery attempt into the closed set. */
export function toDeliveryError(err: unknown, stage: SmtpStage = 'local'): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LocalFaultError(
    { code: 451, enhanced: '4.3.0', text: `local error: ${message}`, stage },
    'local',
    {
      cause: err,
    },
  );
}

/**
 * Stable codes for config, API and CLI errors, one per cause an operator or a caller acts on
 * differently. README ("Error codes") lists them with what to do.
 */
export const ERROR_CODES = {
  HERALD_CONFIG_INVALID: 'the configuration failed validation',
  HERALD_CONFIG_UNREADABLE: 'the configuration file could not be read or parsed',
  HERALD_REDIS_UNAVAILABLE: 'Redis did not answer',
  HERALD_REDIS_NOT_DURABLE:
    'redis.durability: strict, but the Redis server cannot promise that an acknowledged write survives a crash',
  HERALD_SEND_BAD_TENANT: 'send(): the tenant is not a valid tenant name (letters, digits, _ . -)',
  HERALD_SEND_BAD_SENDER: 'send(): the sender address is not a valid address',
  HERALD_SEND_RECIPIENT_REFUSED:
    'send(): a recipient was refused (bad syntax, over smtp.max_recipients, suppressed); listed in rejected, the others are sent',
  HERALD_SEND_NO_RECIPIENT: 'send(): no recipient is left to enqueue',
  HERALD_SEND_BAD_CONTENT: 'send(): the message has a NUL character, or a bare CR in its header block',
  HERALD_SEND_BAD_INSTRUCTION: 'send(): an invalid stream or campaign name (option or X-Herald-* header)',
  HERALD_SEND_BAD_FROM:
    'send(): the message has more than one From field, or one that is not a readable address list',
  HERALD_SEND_DOMAIN_NOT_ALLOWED: "send(): the sender or From domain is outside the tenant's sender_domains",
  HERALD_SEND_DMARC_FAIL: 'send(): DMARC would fail and the tenant has refuse_dmarc_fail',
  HERALD_SEND_SPAM:
    "send(): the content scan's score reached the tenant's reject threshold (scanning.actions)",
  HERALD_SCAN_UNAVAILABLE:
    'send(): the content scanner (rspamd) failed or timed out and scanning.fail is closed',
  HERALD_SEND_ACCOUNT_HELD:
    'send(): the account is flagged (behaviour) and its held mail reached behaviour.max_held_messages or max_held_bytes; try again later',
  HERALD_BEHAVIOUR_OFF:
    'account commands (CLI `herald account`, HTTP `/v1/accounts`): the config has no behaviour section, so no account is watched',
  HERALD_QUARANTINE_NOT_FOUND: 'no such message in quarantine (unknown, or already released or deleted)',
  HERALD_SEND_TOO_BIG: 'send(): the message is larger than smtp.max_message_size',
  HERALD_API_BAD_REQUEST:
    'HTTP API (400, 408, 415): the request is malformed (not JSON, wrong content type, a field fails its schema, CR/LF/NUL in a header field, a bad URL or header byte) or did not arrive in time',
  HERALD_API_UNAUTHENTICATED: 'HTTP API (401): no API key, or one that is unknown, malformed or revoked',
  HERALD_API_FORBIDDEN:
    'HTTP API (403): the key may not do this (a tenant key on an admin route or for another tenant)',
  HERALD_API_NOT_FOUND: 'HTTP API (404): no such route or resource',
  HERALD_API_TOO_LARGE:
    "HTTP API (413, 431): the request body is larger than its route's limit (a send: 4/3 of api.max_message_size + 64 KiB; most routes 512 KiB), or its headers too large",
  HERALD_API_RATE_LIMITED:
    "HTTP API (429): the key's api.rate_limit is spent, the client is blocked after failed authentications, or too many admin keys are being verified at once; see Retry-After",
  HERALD_API_IDEMPOTENCY_CONFLICT:
    'HTTP API (409): a request with the same Idempotency-Key is still in flight',
  HERALD_API_IDEMPOTENCY_MISMATCH:
    'HTTP API (422): the Idempotency-Key was used before with a different request body',
  HERALD_API_NO_RECIPIENT_ACCEPTED:
    'HTTP API (422): every recipient of the message was refused (see details)',
  HERALD_API_CONFLICT:
    'HTTP API (409): the resource cannot be changed this way (a webhook endpoint defined in the config file)',
  HERALD_CLI_USAGE: 'the command line is invalid',
  HERALD_DKIM_SIGN_FAILED: 'a configured DKIM key failed to sign a message (local fault; not spooled)',
  HERALD_LISTEN_FAILED: 'a daemon could not listen on its address (in use, or not permitted)',
  HERALD_ALREADY_RUNNING: '`npm start` already runs in this checkout (.herald/start.pid names it)',
  HERALD_FILE_UNREADABLE: 'a file named on the command line could not be read',
  HERALD_BOUNCE_RULES_INVALID: 'a bounce rules file is invalid, or one of its examples fails',
  HERALD_FILE_UNWRITABLE: 'a file could not be written (exists and is kept, or no permission)',
  HERALD_INPUT_INVALID: 'input given on stdin or in a file is not what the command takes',
  HERALD_QUEUE_NOT_FOUND: 'no queued message or job has that id (finished, or never accepted)',
  HERALD_SMTP_FAILED: 'an SMTP session of the command failed (connection, TLS, AUTH, or a refusal)',
  HERALD_DNS_FAILED: 'a DNS lookup of the command failed (the reason names the DNS answer)',
  HERALD_MESSAGE_NOT_FOUND:
    'no message with this id: never accepted here, or its trace expired (events.trace_retention)',
  HERALD_NOT_AVAILABLE: 'the command is not available in this build',
  HERALD_RELOAD_FAILED:
    'a running relay did not apply a config reload (refused, not answered in time, or no such process)',
  HERALD_INTERRUPTED: 'the command was interrupted (Ctrl-C)',
  HERALD_INTERNAL: 'an unexpected error: a bug in Herald (HERALD_DEBUG=1 shows the stack)',
} as const;

export type HeraldErrorCode = keyof typeof ERROR_CODES;

export class HeraldError extends Error {
  readonly code: HeraldErrorCode;
  constructor(code: HeraldErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'HeraldError';
  }
}

/**
 * How the `herald` command and the daemons print an error: every line of the message as
 * `herald: <code>: <line>` (a config error has one line per problem), ending with a newline.
 */
export function formatCliError(code: HeraldErrorCode, message: string): string {
  return message
    .split('\n')
    .map((line) => `herald: ${code}: ${line}\n`)
    .join('');
}
