/**
 * The outbound session's contracts: where a session goes (SessionTarget), the per-destination
 * limits that shaping sets (SessionLimits, SessionTimeouts), what the TLS handshake gave, and one
 * transaction's per-recipient results. Types only.
 */
import type { DeliveryError, SmtpReply } from '../errors/index.js';

export type TlsMode = 'opportunistic' | 'require' | 'none';

/** A site-wide connection slot (see pool.ts ConnectionLeases). */
export interface ConnectionLease {
  /** Gives the slot back; resolves once it is free for others (never rejects). */
  release(): Promise<void>;
}

/** Per-destination settings (shaping) for the sessions an attempt opens or reuses; not pool keys. */
export interface SessionLimits {
  maxMessagesPerConnection?: number;
  /** Connections this process keeps to the host at most (shaping's max_connections). */
  maxConnections?: number;
  /** The site the host belongs to and its connection limit across every relay (leases). */
  site?: string;
  siteMaxConnections?: number;
  /** New connections to the site per period across every relay (shaping's max_connection_rate). */
  siteConnectionRate?: { count: number; periodMs: number };
  timeouts?: SessionTimeouts;
}

export interface SessionTarget extends SessionLimits {
  /** IP address to connect to. */
  address: string;
  port: number;
  /** Host name the address belongs to (MX name or smarthost); TLS SNI and logs. */
  hostname: string;
  tls: TlsMode;
  tlsVerify: boolean;
  /** Trusted CA certificates (PEM) for the certificate check; absent = Node's bundled roots. */
  tlsCa?: readonly string[] | undefined;
  /** Replaces the PKIX check (DANE): run on the presented chain after the handshake. */
  peerCheck?: PeerCheck;
  /** Source address to bind (a shaping pool's IP); absent = the system picks. */
  localAddress?: string;
  /** EHLO name for this source; absent = the pool's default. */
  ehloName?: string;
  auth?: { username: string; password: string };
}

/**
 * A certificate check that replaces PKIX verification for one host (DANE, RFC 7672): it runs on
 * the chain the server presented, right after the TLS handshake; a problem fails the STARTTLS
 * step (the connection is cut before any command is sent over it).
 */
export interface PeerCheck {
  /** Who requires it ("DANE"), for replies and TlsDetails.verifiedBy. */
  by: string;
  /** Identity of what is checked (records and names): a pooled session is reused under the same key only. */
  key: string;
  /** `chain`: DER certificates as presented, leaf first. Undefined = passed, else why not. */
  check(chain: readonly Buffer[]): string | undefined;
}

/** Deadlines of one session's steps, ms (RFC 5321 §4.5.3.2 gives the usual values). */
export interface SessionTimeouts {
  /** TCP connect. */
  connectMs: number;
  /** The 220 greeting after connecting. */
  greetingMs: number;
  /** Each command's reply: EHLO/HELO, STARTTLS and the TLS handshake, AUTH, MAIL, RCPT, DATA, RSET. */
  commandMs: number;
  /** Sending the body and the reply to its final dot (plus the body's size at a minimum rate: dataDeadlineMs). */
  dataMs: number;
}

/** What the STARTTLS handshake gave: protocol, cipher, and whether the certificate verified. */
export interface TlsDetails {
  version: string;
  cipher: string;
  /**
   * The chain reached a trusted root and the certificate names the host (whether enforced or
   * not), or the target's PeerCheck passed (then `verifiedBy` names it).
   */
  verified: boolean;
  verifiedBy?: string;
}

export interface RecipientOutcome {
  address: string;
  accepted: boolean;
  reply: SmtpReply;
  /** Accepted by a server that offered DSN: the sender's NOTIFY went with it (RFC 3461 §5.2.1). */
  dsnPassed?: boolean;
}

/** What one transaction carries besides the envelope and the body. */
export interface TransactionOptions {
  /**
   * The sender's RFC 3461 request (values decoded), passed on to a server that offers DSN:
   * RET / ENVID on MAIL, NOTIFY / ORCPT on RCPT (recipients keyed by lower-cased address).
   */
  dsn?: {
    ret?: string | undefined;
    envid?: string | undefined;
    recipients?: Readonly<Record<string, { notify?: readonly string[]; orcpt?: string }>> | undefined;
  };
  /** Submitted with SMTPUTF8: UTF-8 in its header section needs a server that offers it. */
  smtputf8?: boolean;
  /**
   * An 8-bit message for a server without 8BITMIME: its 7-bit form (undefined: cannot be made);
   * absent: such a message bounces `554 5.6.3` (delivery.convert_8bit: false).
   */
  downgrade?(body: Buffer): Buffer | undefined;
}

export interface TransactionResult {
  recipients: RecipientOutcome[];
  /** Set when the transaction as a whole failed (MAIL or DATA refused, connection lost). */
  error?: DeliveryError;
  /**
   * The connection failed after the body's final dot was written and before its reply: the server
   * may have taken the message, so it is not sent to another host in the same attempt.
   */
  dotUnanswered?: boolean;
}
