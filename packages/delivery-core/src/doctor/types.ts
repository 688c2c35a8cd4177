/**
 * Types of the sending-domain doctor (re-exported by index.ts, which documents the contract).
 * Pure declarations: no behaviour.
 */
import type { DnsRecord, RecordType } from '../dns/index.js';

export const CHECK_STATUSES = ['pass', 'warn', 'fail', 'info'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface CheckResult {
  /** Stable id, e.g. `spf.record`, `dkim.s1`, `ptr.192.0.2.10`, `bulk.unsubscribe`. */
  id: string;
  status: CheckStatus;
  /** What was found, one sentence. */
  reason: string;
  /** What to change; '' when nothing needs doing. */
  fix: string;
  /** Machine-readable facts behind the verdict (records seen, counts, results per IP). */
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  domain: string;
  checks: CheckResult[];
}

/** One looked-up name and type: an answer (NOERROR/NXDOMAIN), or a lookup that failed. */
export type Lookup =
  | {
      kind: 'answer';
      rcode: 'NOERROR' | 'NXDOMAIN';
      records: DnsRecord[];
      /** The resolver set AD: it validated this answer with DNSSEC. */
      authenticated?: boolean;
    }
  | { kind: 'error'; message: string };

/**
 * What the checks read DNS through. `get` answers from data already looked up; a name not looked
 * up yet answers `undefined`-free NODATA and is remembered in `missing()` so the gatherer can fetch
 * it and run the checks again (see snapshot.ts).
 */
export interface DnsView {
  get(name: string, type: RecordType): Lookup;
}

/** A DKIM key from the config, as the gatherer read it from its key file. */
export interface DkimKeyFacts {
  domain: string;
  selector: string;
  keyFile: string;
  /** Signs mail from other domains too (a platform signature); see the dkim config. */
  always: boolean;
  /** The key's public half: SPKI DER (RSA) or the raw 32 bytes (Ed25519); absent when unreadable. */
  publicKey?: Buffer;
  type?: 'rsa' | 'ed25519';
  /** RSA modulus length. */
  bits?: number;
  /** Why the key file could not be used. */
  error?: string;
  /** ms since epoch; a key that activates later must already be published. */
  activateAt?: number;
  retireAt?: number;
}

/** A tenant's List-Unsubscribe setting, for the bulk-sender rule. */
export interface UnsubscribeFacts {
  tenant: string;
  mailto: boolean;
  https: boolean;
  streams: string[];
}

/** What the config says about how Herald sends for the domain; absent without --config. */
export interface SenderSetup {
  /** Where the setup came from (the config file), for the output. */
  source: string;
  /** DKIM keys that sign for the domain or its organizational domain. */
  dkimKeys: DkimKeyFacts[];
  /** VERP return-path domain (`bounce.domain`), or undefined: mail goes out with MAIL FROM at the domain itself. */
  bounceDomain?: string;
  unsubscribe: UnsubscribeFacts[];
  /** Source IPs named by the shaping file (pools and sources). */
  sourceIps: string[];
  /** Where delivery TLS is turned off (`delivery.tls`, `shaping providers.gmail`, ...). */
  tlsOff: string[];
}

export interface DoctorInput {
  domain: string;
  /** Source IPs to check: the shaping file's plus --ip. */
  ips: string[];
  setup?: SenderSetup;
  /** ms since epoch (key activation windows). */
  now: number;
}
