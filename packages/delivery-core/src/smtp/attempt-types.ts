/**
 * The contract of one delivery attempt (deliver.ts): the candidate hosts with their TLS policy,
 * what the attempt is asked to send and within which limits, and what it reports. Types only.
 */
import type { SmtpReply } from '../errors/index.js';
import type {
  PeerCheck,
  RecipientOutcome,
  SessionLimits,
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
  /** Addresses tried at most in this attempt (Postfix's smtp_mx_address_limit), each (address, port) once; default no limit. */
  maxAddresses?: number;
  /** Servers that answered (sessions) used at most (Postfix's smtp_mx_session_limit); default no limit. */
  maxSessions?: number;
  /**
   * Takes one message of the destination's rate (shaping's max_message_rate) for a further
   * transaction of this attempt (the recipients over a server's limit per transaction; those a
   * host deferred, at the next host once someone was delivered; each VERP transaction after the
   * first), waiting for one a while: false when none came in time, and those recipients wait for
   * the next attempt.
   * Absent: no rate applies. The attempt's first transaction took its message at admission.
   */
  messageSlot?: (() => Promise<boolean>) | undefined;
  /** The DSN request, SMTPUTF8 flag and 8-bit conversion of the transaction (session-types.ts). */
  transaction?: TransactionOptions;
}

export interface AttemptReport {
  /**
   * The host that ran the attempt's last transaction, when one was reached (a recipient delivered
   * at an earlier host of the attempt has that host's name in its reply).
   */
  host?: AttemptHost;
  /** Each recipient's last outcome in the attempt, in the request's order. */
  recipients: RecipientOutcome[];
  /**
   * Every host's failure met on the way, in order (`localAddress`: our end, when connected): the
   * connection-level ones, and the replies of a host whose deferred recipients went on to the next
   * (a 4xx to MAIL, RCPT, DATA or the end of data, a 421, a connection lost before the final dot).
   */
  hostErrors: { hostname: string; address: string; reply: SmtpReply; localAddress?: string }[];
  durationMs: number;
  /**
   * Set when the attempt ended on a connection-level failure — no host could be reached, or its
   * last transaction ended with a lost or timed-out connection or a 421 (concurrency feedback:
   * shrink the site) —: the reply that says why, never a recipient's own refusal met before it.
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
