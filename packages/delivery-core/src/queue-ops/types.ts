/**
 * The plain data queue operations take and answer (CLI, HTTP API): a page of a site's queued
 * jobs, what a retry or flush woke, what a delete or bounce ended now and what it marked for
 * after an attempt in flight. No Redis or BullMQ object ever leaves queue-ops.
 */
import type { ParkedKind } from '../keys/index.js';

/** Where a queued job is now. */
export type QueuedState = 'ready' | 'scheduled' | 'in-flight' | 'parked';

/** One queued job: a message × one destination domain, with its recipients still pending. */
export interface QueuedJob {
  messageId: string;
  jobId: string;
  tenant: string;
  /** Envelope sender ('' = the null sender). */
  from: string;
  domain: string;
  /** The site the job rolled up to at its last admission; absent before its first. */
  site?: string;
  /** Recipients not delivered, bounced or expired yet. */
  pending: string[];
  /** Delivery attempts made (shaping waits do not count). */
  attempts: number;
  /** When the message was accepted (epoch ms). */
  acceptedAt: number;
  state: QueuedState;
  /** scheduled / parked: when it is due again (epoch ms; a parked job's safety net or suspension end). */
  nextAttemptAt?: number;
  /** scheduled: a retry's backoff, or a shaping wait (a rate slot, ...; see `reason`). */
  waitingFor?: 'retry' | 'shaping';
  /** parked: for a connection slot of its lane, a site suspension, or its tenant's pause. */
  parked?: ParkedKind;
  /** The shaping gate's reason for a wait or a park. */
  reason?: string;
  /** The last deferral reply of a pending recipient ("451 4.7.1 …"). */
  lastError?: string;
  stream?: string;
  campaign?: string;
}

export interface QueuePage {
  /** The site asked for (`provider:<name>`, `mx:<hosts>`, `route:<host>:<port>` or `domain:<name>`). */
  site: string;
  /** In job id order (= acceptance order). */
  jobs: QueuedJob[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
  /** Jobs in the queue snapshot this page was read from; `truncated` when it stopped at its bound. */
  scanned: number;
  truncated: boolean;
}

export interface ListOptions {
  /** Jobs per page (default 50, at most 1000). */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string;
}

/** Which queued jobs an operation acts on: one message (or one job), a site, or all. */
export type QueueTarget = { messageId: string } | { site: string } | { all: true };

/** A delete's filter: every given criterion must match (at least one is required). */
export interface QueueFilter {
  site?: string;
  tenant?: string;
  /** Envelope sender address. */
  from?: string;
  /** Destination domains (any of them). */
  toDomains?: string[];
}

export interface WakeResult {
  /** Jobs that waited (a retry backoff, a shaping wait, a park) and are ready now. */
  woken: number;
  /** Jobs that were ready already. */
  ready: number;
  /** Jobs in flight (their attempt goes on). */
  inFlight: number;
  /** Jobs held by a site suspension or a tenant pause, left as they are (flush). */
  held: number;
}

export interface RemoveResult {
  action: 'delete' | 'bounce';
  /** Jobs removed now, and their pending recipients, each ended `bounced` with an event. */
  removed: { jobs: number; recipients: number };
  /** Jobs in flight, marked: their recipients still pending end this way after the attempt. */
  marked: { jobs: number; recipients: number };
}
