/**
 * Herald's event vocabulary: one record per accepted message, per delivery attempt and per
 * recipient outcome. Every recipient of an accepted message ends with exactly one terminal event:
 * delivered, bounced, expired or suppressed.
 */
import type { SmtpReply } from '../errors/index.js';

export type TerminalState = 'delivered' | 'bounced' | 'expired' | 'suppressed';
export type RecipientEventType = TerminalState | 'deferred';

interface EventBase {
  /** Epoch milliseconds. */
  time: number;
  messageId: string;
  tenant: string;
}

export interface AcceptedEvent extends EventBase {
  type: 'accepted';
  from: string;
  recipients: string[];
  size: number;
  jobs: number;
  /** smtp: submitted over SMTP; api: `send()`; dsn: a delivery status notification Herald made. */
  source: 'smtp' | 'api' | 'dsn';
  client?: string;
  /** Traffic stream; absent for the default (`transactional`). */
  stream?: string;
  /** Campaign given at submission, if any. */
  campaign?: string;
  /** The accept span's W3C traceparent, when telemetry traced it (links bounces to the trace). */
  traceparent?: string;
}

export interface AttemptEvent extends EventBase {
  type: 'attempt';
  domain: string;
  attempt: number;
  host?: {
    hostname: string;
    address: string;
    port: number;
    tls: boolean;
    /** Our end of the connection: the local IP it left from (a TLS report's `sending-mta-ip`). */
    localAddress?: string;
    /** With TLS: the protocol ("TLSv1.3"), the cipher, and whether the certificate verified for the host name. */
    tlsVersion?: string;
    tlsCipher?: string;
    tlsVerified?: boolean;
    /** What verified the certificate instead of the CA roots: "DANE" (TLSA records). */
    tlsVerifiedBy?: string;
    /** Opportunistic TLS failed to begin (why); the transaction ran in plaintext on a new connection. */
    tlsFallback?: string;
    /** The receiving domain's MTA-STS policy mode, when one applied. */
    mtaSts?: 'enforce' | 'testing';
  };
  /** MTA-STS testing mode: what enforcing the policy would have refused in this attempt. */
  mtaStsProblems?: string[];
  /**
   * With delivery.dane on: `verified` (a host's certificate matched its TLSA records),
   * `failed:<why>` (DANE applied and no host passed: the recipients were deferred, nothing went in
   * plaintext), or `none` (no DNSSEC-validated TLSA records: MTA-STS / the usual TLS applied).
   */
  dane?: string;
  /**
   * With `dane` verified or failed: the TLSA records (presentation format, "3 1 1 ab…", at most 8,
   * long data cut with "…") of the MX host it speaks of — a TLS report's `policy-string` / `mx-host`.
   */
  daneTlsa?: { mxHost: string; records: string[] };
  /** The MTA-STS policy in force (enforce or testing) as its lines: a TLS report's `policy-string`. */
  mtaStsPolicy?: string[];
  /**
   * True when the attempt went through a static route (`routes`: a smarthost or fixed next hop),
   * not the domain's MX: no receiving-domain TLS policy applied, and TLS reports leave it out.
   */
  routed?: boolean;
  /** Connection-level failures before the host that ran the transaction (`localAddress`: our end, when connected). */
  hostErrors: { hostname: string; address: string; reply: SmtpReply; localAddress?: string }[];
  /** The site the destination rolled up to (shaping), when the attempt was admitted by one. */
  site?: string;
  results: { address: string; accepted: boolean; reply: SmtpReply }[];
  durationMs: number;
}

export interface RecipientEvent extends EventBase {
  type: RecipientEventType;
  domain: string;
  recipient: string;
  attempt: number;
  reply: SmtpReply;
  /** For deferred: when the next attempt is due (epoch ms). */
  nextAttemptAt?: number;
  /** For deferred: why, as the retry class that picks the backoff (greylisted, throttled, ...). */
  retryClass?: string;
  /** The message's stream (absent: transactional) and campaign, as given at submission. */
  stream?: string;
  campaign?: string;
  /** Milliseconds from acceptance to this outcome. */
  latencyMs: number;
  /** The site of the job's last admission (shaping); absent before any (e.g. a DNS failure first). */
  site?: string;
  /**
   * `dsn`: the message is a delivery status notification Herald made (to the sender of a message
   * that bounced or was delayed), not mail the application sent; absent otherwise.
   */
  source?: 'dsn';
  /**
   * For bounced: an operator ended the recipient (`herald queue delete` / `bounce`), not the
   * remote server; such outcomes count against no tenant's reputation and feed no site automation.
   */
  operator?: OperatorAction;
}

/** What an operator did to queued recipients: removed them silently, or bounced them with a DSN. */
export type OperatorAction = 'delete' | 'bounce';

/**
 * A shaping transition: automation or an operator suspended, slowed or resumed a site, or
 * suspended one source IP at a site (`source_suspended`, with `source`).
 */
export interface SiteEvent {
  type: 'site_suspended' | 'site_slowed' | 'site_resumed' | 'source_suspended';
  time: number;
  site: string;
  /** For source_suspended: the source IP. */
  source?: string;
  /** When the action lifts itself (epoch ms); absent for site_resumed. */
  until?: number;
  /** For site_slowed: the rate in force until then, e.g. "10/min". */
  rate?: string;
  /** Why: the automation rule (its index in the shaping file) and the reply, or "operator". */
  reason: string;
}

/** A tenant's bulk streams paused (a reputation threshold passed) or resumed (operator). */
export interface TenantEvent {
  type: 'tenant_paused' | 'tenant_resumed';
  time: number;
  tenant: string;
  reason: string;
}

/**
 * What the bounce-processor received for one recipient of an earlier message: an asynchronous
 * bounce (`bounce_received`, classified) or a complaint (`complaint_received`, ARF). Not terminal
 * states: the recipient's own delivery already ended (usually `delivered`).
 */
export interface FeedbackEvent {
  type: 'bounce_received' | 'complaint_received';
  time: number;
  tenant: string;
  /** Herald's id of the original message, when the VERP token or the report names it. */
  messageId?: string;
  recipient: string;
  /** The classifier's reason (sisimai vocabulary), hard flag, status and action. */
  reason: string;
  hard: boolean;
  status?: string;
  action: string;
  /** For complaints: the ARF Feedback-Type (abuse, fraud, ...). */
  feedbackType?: string;
  /** Whether the address went on the tenant's suppression list. */
  suppressed: boolean;
  /**
   * True when the VERP token the report came back to names this recipient (its keyed hash
   * matches); only then is anything suppressed or counted. False: the report named another
   * address (a forwarded mailbox, a redacting feedback loop): recorded, nothing changed.
   */
  verified?: boolean;
}

/** Why a client was refused at the door (see door/). */
export type ClientLimitReason = 'blocked' | 'connections' | 'connection_rate' | 'auth_failures';

/**
 * Abuse at the door of an SMTP listener: a client (an IPv4 address or an IPv6 /prefix network)
 * blocked after too many AUTH failures (`client_blocked`, once per block), or refused for a
 * limit (`client_limited`, at most once per client and reason per `client_limits.rate_time_unit`).
 * Never carries a user name or a password.
 */
export interface ClientEvent {
  type: 'client_blocked' | 'client_limited';
  time: number;
  client: string;
  reason: ClientLimitReason;
  /** client_blocked: when the block ends (epoch ms). */
  until?: number;
}

/**
 * A message held in quarantine (`quarantined`: not queued; its recipients were accepted and end
 * later) or let out of it (`released`: queued now as if just accepted). A message deleted from
 * quarantine (operator or retention) ends each recipient `bounced` with `operator: 'delete'`.
 */
export interface QuarantineEvent extends EventBase {
  type: 'quarantined' | 'released';
  /** Why it is held: `spam` (the content scan) or another detector's name. */
  reason: string;
  /** The scan's score, when a scan held it. */
  score?: number;
  /** The rules that fired (rspamd symbols), highest first. */
  symbols?: string[];
  /** The flagged account, when a behaviour rule held it (reason `behaviour:<rule>`). */
  account?: string;
  recipients: string[];
  /** For released: who let it out (`operator`, `api:<admin key label>`, else `api:<key id>`). */
  by?: string;
}

/**
 * An account flagged by a behaviour rule (`account_flagged`: its newly accepted mail is held in
 * quarantine from now on) or unflagged by an operator (`account_unflagged`). The account is the
 * SMTP user, else the tenant (behaviour/); `tenant` is the tenant it sends as, so the tenant's
 * webhooks carry it.
 */
export interface AccountEvent {
  type: 'account_flagged' | 'account_unflagged';
  time: number;
  account: string;
  tenant: string;
  /** account_flagged: the rule that tripped and its figures. */
  rule?: string;
  figures?: Record<string, number>;
  reason: string;
  /** account_unflagged: who (`operator`, `api:<admin key label>`, else `api:<key id>`). */
  by?: string;
}

export type HeraldEvent =
  | AcceptedEvent
  | AccountEvent
  | QuarantineEvent
  | AttemptEvent
  | RecipientEvent
  | SiteEvent
  | TenantEvent
  | FeedbackEvent
  | ClientEvent;

/** What an event is about, for a log line: its site, message, client or tenant. */
export function eventSubject(event: HeraldEvent): string {
  if (
    event.type === 'site_suspended' ||
    event.type === 'site_slowed' ||
    event.type === 'site_resumed' ||
    event.type === 'source_suspended'
  )
    return event.site;
  if ('client' in event && (event.type === 'client_blocked' || event.type === 'client_limited'))
    return event.client;
  if (event.type === 'account_flagged' || event.type === 'account_unflagged') return event.account;
  if ('messageId' in event && event.messageId) return event.messageId;
  return 'tenant' in event ? event.tenant : '';
}

/** Where events go. Implementations must not throw from `emit`. */
export interface EventSink {
  emit(event: HeraldEvent): void;
  /** Resolves when everything emitted so far is written. */
  flush(): Promise<void>;
}
