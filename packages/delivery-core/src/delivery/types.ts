/**
 * The contracts of one delivery attempt: what processDelivery needs injected (DeliveryDeps),
 * what it answers (DeliveryOutcome), and the port that traffic shaping (`shaping/`) implements:
 * admission control (DeliveryGate, AttemptLimits, ConnectionVerdict) and parking (JobParking,
 * PARK_SAFETY_MS). Delivery depends on this port only, never on shaping's runtime; the one value
 * here is the park bound both sides use.
 */
import type { DaneMode } from '../config/index.js';
import type { Resolver } from '../dns/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { EventSink, OperatorAction } from '../events/index.js';
import type { DeliveryJobData, OperatorMark, Spool } from '../queue/index.js';
import type { RetryPolicy } from '../retry/index.js';
import type { AttemptHost, CandidateHost, SessionLimits, SmtpPool, TlsMode } from '../smtp/index.js';
import type { Tracer } from '../telemetry/index.js';
import type { StaticRoute } from './hosts.js';

/** A parked job comes back after this at the latest, even if no release wakes it. */
export const PARK_SAFETY_MS = 5_000;

/** What one attempt says about the site's connections; undefined = nothing (no connection tried). */
export type ConnectionVerdict = 'success' | 'failure';

/**
 * Where a job waits that the gate (or the SMTP pool's connection leases) refused for now: the
 * worker moves it to the delayed set (at most PARK_SAFETY_MS ahead) and then lists it under the
 * outcome's `parkOn` key; whoever frees what it waits for wakes it.
 */
export interface JobParking {
  park(key: string, jobId: string, stream?: string): Promise<void>;
}

/** What delivery reports that no event carries: a job held back (no attempt spent), with why. */
export interface DeliveryMeterPort {
  throttled(site: string | undefined, reason: string): void;
}

export interface DeliveryDeps {
  spool: Spool;
  resolver: Resolver;
  pool: SmtpPool;
  events: EventSink;
  retry: RetryPolicy;
  /** Static route for a domain, or undefined to use MX. */
  routeFor(domain: string): StaticRoute | undefined;
  mxPort: number;
  /** Addresses and answering servers one attempt tries at most (delivery.mx_address_limit / mx_session_limit). */
  mxLimits?: { addresses: number; sessions: number };
  tls: TlsMode;
  tlsVerify: boolean;
  now(): number;
  /**
   * The envelope sender for one recipient (VERP: bounces+<token>@<bounce domain>); absent = the
   * message's own sender. Never used for null-sender mail.
   */
  returnPath?(data: DeliveryJobData, recipient: string): string;
  /** Admission control (shaping); absent = always admitted. */
  gate?: DeliveryGate;
  /** Counts attempts shaping held back (metrics' DeliveryMeter); absent = not counted. */
  meter?: DeliveryMeterPort;
  /**
   * The operator's mark on this job (`herald queue delete` / `bounce` while it was in flight),
   * read before an attempt; absent = none is ever set.
   */
  operatorMark?(data: DeliveryJobData): Promise<OperatorMark | undefined>;
  /**
   * The receiving domain's TLS policy (DANE, then MTA-STS) for an MX delivery, applied after the MX lookup;
   * absent, or undefined for a domain, = the relay's and the site's TLS settings as they are.
   * `destination.dane`: the DANE mode shaping gives the destination (DeliveryGate.daneMode);
   * absent = delivery.dane.mode.
   */
  tlsPolicy?(
    domain: string,
    hosts: CandidateHost[],
    destination?: { dane?: DaneMode },
  ): Promise<TlsPolicyDecision | undefined>;
  /** Spans `herald.delivery.attempt` (attempt-span.ts); absent = none. */
  tracer?: Tracer;
  /**
   * How long a tenant's recipient may wait in the queue before its sender gets one delay notice
   * (delivery.delay_warning, per tenant); absent or undefined = no delay notices.
   */
  delayWarningMs?(tenant: string): number | undefined;
  /**
   * How a next hop without 8BITMIME gets an 8-bit message: converted to 7-bit by this function
   * (undefined when it cannot be), or, when absent (delivery.convert_8bit: false), bounced 5.6.3.
   */
  downgrade8bit?(body: Buffer): Buffer | undefined;
}

/**
 * What a domain's TLS policy makes of one MX delivery. `dane`: `hosts` carry their own TLS policy
 * (CandidateHost.tls: TLSA-checked TLS required, or a host refused); `none`: nothing changes (DANE
 * looked and found nothing, and no MTA-STS policy applies). `enforce`: only `hosts` (those the policy
 * names), STARTTLS required and the certificate verified for the MX name against `tlsCa`; the
 * site's own TLS override does not apply. `testing`: hosts and TLS as usual, and `review` names
 * what enforcing would have refused. `refuse`: no host may be used; every recipient is deferred
 * with this reply and no connection is made.
 */
export interface TlsPolicyDecision {
  mode: 'enforce' | 'testing' | 'dane' | 'none';
  hosts: CandidateHost[];
  tls?: TlsMode;
  tlsVerify?: boolean;
  /** Trusted CA certificates (PEM) for the session's certificate check. */
  tlsCa?: readonly string[] | undefined;
  refuse?: SmtpReply;
  /** MTA-STS (enforce, testing): the policy's text lines, for the attempt event (TLS reports). */
  policyString?: string[];
  /** The would-be failures of this attempt (testing mode), from the host that took it. */
  review?(host: { hostname: string; tls: boolean; tlsVerified?: boolean } | undefined): string[];
  /** DANE's word for the attempt event (`verified`, `failed:<why>`, `none`); absent = DANE is off. */
  daneResult?(host: AttemptHost | undefined, hostErrors: { hostname: string; reply: SmtpReply }[]): string;
  /** DANE: the TLSA records of the MX host `daneResult` speaks of (verified or failed), for TLS reports. */
  daneTlsa?(
    host: AttemptHost | undefined,
    hostErrors: { hostname: string; reply: SmtpReply }[],
  ): { mxHost: string; records: string[] } | undefined;
}

export type DeliveryOutcome =
  /**
   * `failures`: recipients that bounced or expired in this attempt (for DSNs and suppression);
   * `notices`: those the sender asked to hear about otherwise (relayed, delayed).
   */
  | {
      kind: 'done';
      data: DeliveryJobData;
      failures?: RecipientFailure[];
      notices?: RecipientNotice[];
      /**
       * The job's message is not in the spool (no body, no pending job): nothing was attempted and
       * nothing is reported — its write was never confirmed (a 451 / 503, lost with a failover)
       * or its message already ended. Its recipients are left without an outcome.
       */
      messageGone?: true;
    }
  | {
      kind: 'retry';
      at: number;
      data: DeliveryJobData;
      failures?: RecipientFailure[];
      notices?: RecipientNotice[];
    }
  /** Not admitted by the gate (shaping): reschedule at `at`; no attempt was spent. */
  | {
      kind: 'throttled';
      at: number;
      data: DeliveryJobData;
      reason: string;
      /** Waiting for a connection slot of this site: a released slot may wake the job earlier. */
      parkOn?: string;
    };

/** Per-destination settings for one attempt (from shaping); unset fields use the relay's own. */
export interface AttemptLimits extends SessionLimits {
  /** For MX deliveries; a static route's own TLS setting wins. */
  tls?: TlsMode;
  tlsVerify?: boolean;
  /** The site's retry schedule and queue lifetime (shaping), instead of the relay's. */
  retryScheduleMs?: readonly number[];
  maxQueueLifetimeMs?: number;
  /** The source IP to bind (from the tenant's or stream's pool) and its EHLO name. */
  localAddress?: string;
  ehloName?: string;
  /** The source IP, for automation rules that suspend one source at a site. */
  source?: string;
  /**
   * Takes one more message of the lane's max_message_rate for a further transaction of the
   * attempt (recipients over a server's limit per transaction, VERP's one per recipient), waiting
   * for the next free one up to shaping's FURTHER_MESSAGE_MAX_WAIT_MS: false when none comes in time. Absent: the lane has no rate. (smtp AttemptRequest.messageSlot)
   */
  messageSlot?: () => Promise<boolean>;
}

/**
 * Admission control before a delivery attempt (traffic shaping plugs in here): either admitted,
 * with a release to call when the attempt is over (passing what the attempt said about the site's
 * connections, for concurrency feedback), or told when to come back.
 */
export interface DeliveryGate {
  admit(
    request: GateDestination & { data: DeliveryJobData },
  ): Promise<
    | { admitted: true; release(connection?: ConnectionVerdict): void; limits?: AttemptLimits }
    | { admitted: false; until: number; reason: string; parkOn?: string }
  >;
  /** Sees every reply of an attempt (automation rules act on them). Must not throw. */
  observe?(request: GateDestination & { source?: string | undefined }, replies: SmtpReply[]): Promise<void>;
  /** The destination's max queue lifetime (shaping), ms. */
  queueLifetimeMs?(request: GateDestination): number;
  /**
   * The destination's DANE mode (shaping's `dane` of its provider, site or domain, over
   * delivery.dane.mode), asked before the TLS policy of an MX delivery; absent = the config's.
   */
  daneMode?(request: GateDestination): DaneMode;
}

/** Where an attempt goes, as the gate is asked about it. */
export interface GateDestination {
  domain: string;
  /** The hosts this attempt tries (for an MX: ties in random order, those with addresses). */
  hosts: CandidateHost[];
  route?: StaticRoute | undefined;
  /**
   * MX deliveries: the MX RRset's names (hostsFor's `mxNames`), which the site is named after,
   * so it is the same on every attempt; absent = the hosts' names.
   */
  mxNames?: readonly string[] | undefined;
}

/** A recipient that ended bounced or expired in this attempt, with the reply that decided it. */
export interface RecipientFailure {
  address: string;
  type: 'bounced' | 'expired';
  reply: SmtpReply;
  /** Ended by an operator (queue-ops), not by the remote: no suppression, no reputation count. */
  operator?: OperatorAction;
}

/**
 * A recipient the sender asked (RFC 3461 NOTIFY) to hear about though it did not fail: accepted
 * by a next hop that could not be given the request (`relayed`, NOTIFY=SUCCESS), or still queued
 * past the delay warning (`delayed`).
 */
export interface RecipientNotice {
  address: string;
  action: 'relayed' | 'delayed';
  reply: SmtpReply;
}
