/** The data a delivery job carries: one message, one destination domain, its recipients. */

import type { BehaviourMark } from '../behaviour/index.js';
import type { DsnNotify, DsnRet, MessageDsn } from '../dsn/index.js';
import type { TerminalState } from '../events/index.js';

export type RecipientState = 'pending' | TerminalState;

export interface JobRecipient {
  address: string;
  state: RecipientState;
  /** The reply of its last deferral ("451 4.4.2 …", at most 300 characters), for the expiry text. */
  lastError?: string;
  /** RFC 3461 NOTIFY as submitted (absent: not given); ORCPT ("rfc822;addr"). */
  notify?: DsnNotify[];
  orcpt?: string;
  /** The time a delay notice (`Action: delayed`) went to the sender: at most one per recipient. */
  delayNotifiedAt?: number;
}

export interface DeliveryJobData {
  messageId: string;
  tenant: string;
  /** Envelope sender; '' for the null sender. */
  from: string;
  /** Destination domain, lower-case. */
  domain: string;
  recipients: JobRecipient[];
  /** Delivery attempts made so far (throttle deferrals do not count). */
  attempts: number;
  /** When the message was accepted (epoch ms); queue lifetime counts from here. */
  acceptedAt: number;
  size: number;
  /** RFC 3461 RET and ENVID as submitted (absent: not given). */
  ret?: DsnRet;
  envid?: string;
  /** Submitted with SMTPUTF8 (RFC 6531): a next hop without it cannot take its UTF-8 headers. */
  smtputf8?: true;
  /**
   * Message-rate slots this job already booked (shaping): rate key → epoch ms it is due. Coming
   * back at that time it passes those rates without booking again; cleared once admitted.
   */
  rateSlots?: Record<string, number>;
  /** The site this job's destination rolled up to at its last admission (for queue stats). */
  site?: string;
  /** Traffic stream given at submission (absent: `transactional`); picks source pool and priority. */
  stream?: string;
  /** Campaign given at submission, for per-campaign rate limits and events. */
  campaign?: string;
  /** Source IP picked at the last admission (shaping pools), kept while it stays usable. */
  source?: string;
  /**
   * Why and until when the worker last put the job in the delayed set: a retry's backoff, or a
   * shaping wait (`throttled`, with the gate's reason and, when parked, the ParkedJobs list that
   * wakes it: a lane, `suspended:<site>` or `tenant:<tenant>`). Read by the queue operations
   * (`herald queue list`) and the message's story (`herald message show`); meaningless while the job is ready or in flight.
   */
  delayed?: DelayedFor;
  /** The accept span's W3C traceparent (telemetry on): each attempt's span is its child. */
  traceparent?: string;
  /** The account it was accepted for (config `behaviour` on): its hard bounces count for it. */
  account?: string;
  /** A delivery status notification Herald made: its recipient events say `source: "dsn"`. */
  ownDsn?: true;
}

export interface DelayedFor {
  kind: 'retry' | 'throttled';
  /** When the job is due again (epoch ms). */
  until: number;
  reason?: string;
  parkedOn?: string;
}

/** The quarantine keys a released message's enqueue clears (quarantine/claims.ts). */
export interface ReleasedFrom {
  record: string;
  claims: string;
}

export interface SpoolMessage {
  id: string;
  tenant: string;
  from: string;
  recipients: string[];
  body: Buffer;
  acceptedAt: number;
  /** Traffic stream (absent: `transactional`). */
  stream?: string;
  /** Campaign name, if any. */
  campaign?: string;
  /** The accept span's W3C traceparent (telemetry on), copied into each job's data. */
  traceparent?: string;
  /** RFC 3461 parameters given at submission (kept in the job data, only when given). */
  dsn?: MessageDsn | undefined;
  /** Submitted with SMTPUTF8 (RFC 6531). */
  smtputf8?: boolean | undefined;
  /** A delivery status notification Herald made (copied into each job's data). */
  ownDsn?: true;
  /** A record (JSON) appended to the event stream in the same transaction as the message. */
  acceptedEvent?: string;
  /** The accepted event's recipients (dropped suppressed ones included), counted with it; default `recipients`. */
  acceptedRecipients?: number;
  /**
   * An Idempotency-Key's answer (intake/idempotency.ts), written in the same transaction as the
   * message (SET PX ttlMs) with its in-flight marker dropped: a spooled message always has it.
   */
  idempotency?: { scope: string; value: string; ttlMs: number } | undefined;
  /** Behaviour's mark (config `behaviour` on): the account counted in the same transaction. */
  behaviour?: BehaviourMark | undefined;
  /**
   * Released from quarantine (keys/quarantine.ts, the message's shard): its held record deleted and
   * its claim (its id in `claims`) ended in the same transaction, so the message is queued exactly
   * when it stops being held.
   */
  releasedFrom?: ReleasedFrom | undefined;
}

export interface EnqueueResult {
  messageId: string;
  jobs: { id: string; domain: string; recipients: string[] }[];
}
