/**
 * A message's story as plain data (what `herald message show` prints and `GET /v1/messages/{id}`
 * answers): its envelope, each recipient's state, every delivery attempt, and why a recipient not
 * finished yet waits. Times are epoch milliseconds.
 */

import type { SmtpReply } from '../errors/index.js';
import type { AcceptedEvent, AttemptEvent, FeedbackEvent } from '../events/index.js';

/** queued: accepted, no outcome yet; deferred: its last outcome was a deferral; else terminal. */
export const RECIPIENT_STATES = [
  'queued',
  'deferred',
  'delivered',
  'bounced',
  'expired',
  'suppressed',
] as const;
export type RecipientStoryState = (typeof RECIPIENT_STATES)[number];

/** Why a recipient not finished yet is not being delivered right now, and until when. */
export interface Waiting {
  /**
   * `retry backoff (<retry class>)`, `site <site> suspended`, `tenant <t> paused`, `waiting for a
   * connection slot (<lane>)`, `rate limit (<key>)`, another shaping reason as the gate gave it,
   * `in flight` (a worker is delivering it), `ready` (waiting for a free worker).
   */
  reason: string;
  /** When the job comes back (or the suspension ends); absent for in flight and ready. */
  until?: number;
}

export interface RecipientStory {
  address: string;
  domain: string;
  state: RecipientStoryState;
  /** Delivery attempts that included this recipient. */
  attempts: number;
  /** The last reply about it (its outcome's, else its last attempt's). */
  reply?: SmtpReply;
  /** When it reached its state (absent while queued). */
  at?: number;
  /** Deferred: when the next attempt is due, and the retry class that chose the delay. */
  nextAttemptAt?: number;
  retryClass?: string;
  /** Not terminal: why it waits, read from its job and the live shaping state. */
  waiting?: Waiting;
}

export interface AttemptStory {
  time: number;
  domain: string;
  attempt: number;
  /** The server the transaction ran on: MX host name, IP address, port, TLS. */
  host?: AttemptEvent['host'];
  results: AttemptEvent['results'];
  hostErrors: AttemptEvent['hostErrors'];
  durationMs: number;
  mtaStsProblems?: string[];
  /** DANE's result for the attempt (delivery.dane on): verified, failed:<why>, none. */
  dane?: string;
}

export type FeedbackStory = Omit<FeedbackEvent, 'tenant' | 'messageId'>;

export interface MessageStory {
  id: string;
  tenant: string;
  /** Envelope sender ('' for the null sender). */
  from: string;
  acceptedAt: number;
  size: number;
  stream?: string;
  campaign?: string;
  source: AcceptedEvent['source'];
  client?: string;
  recipients: RecipientStory[];
  attempts: AttemptStory[];
  /** Bounces and complaints received later for its recipients. */
  feedback: FeedbackStory[];
  /** True when the trace dropped older events (events.trace_max_entries): counts are lower bounds. */
  truncated: boolean;
}

/** What a recipient's job says now, as the story reader found it. */
export interface JobView {
  /** BullMQ's state of the job; `missing` when it is gone (finished) or unreadable. */
  state:
    | 'active'
    | 'waiting'
    | 'prioritized'
    | 'delayed'
    | 'waiting-children'
    | 'failed'
    | 'completed'
    | 'missing';
  /** A shaping wait of the job (queue/types.ts `DeliveryJobData.delayed` of kind `throttled`). */
  held?: { reason: string; until: number; parkOn?: string };
  /** The site the job rolled up to at its last admission. */
  site?: string;
  /** The live state of that site: when its suspension ends, if suspended now. */
  siteSuspendedUntil?: number;
}
