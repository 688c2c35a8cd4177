/**
 * The story of a message derived from its trace (pure): the envelope from its `accepted` event,
 * each recipient's state from its last outcome event (queued without one; a terminal event is
 * final), its attempts from the `attempt` events that carried it, and — for a recipient not
 * finished — why it waits, from its job's view (`waitingFor`). Never throws on odd traces: events
 * that name no recipient of the message are ignored.
 */
import type {
  AcceptedEvent,
  AttemptEvent,
  FeedbackEvent,
  HeraldEvent,
  RecipientEvent,
} from '../events/index.js';
import { siteHoldKey, tenantParkKey } from '../keys/index.js';
import { domainOf } from '../queue/index.js';
import type { AttemptStory, FeedbackStory, JobView, MessageStory, RecipientStory, Waiting } from './types.js';

const TERMINAL = new Set<string>(['delivered', 'bounced', 'expired', 'suppressed']);

/** One key per mailbox address as the spool groups them (queue/ids.ts: lower-cased). */
const keyOf = (address: string) => address.toLowerCase();

/**
 * The story of message `id` from its trace's events (oldest first); undefined without its
 * `accepted` event. `jobs` gives the view of the job holding each recipient (by lower-cased
 * address) for those not finished; without one, no `waiting` is given.
 */
export function storyFromEvents(
  id: string,
  events: readonly HeraldEvent[],
  truncated: boolean,
  jobs: ReadonlyMap<string, JobView> = new Map(),
): MessageStory | undefined {
  const accepted = events.find((e): e is AcceptedEvent => e.type === 'accepted' && e.messageId === id);
  if (!accepted) return undefined;
  const recipients = new Map<string, RecipientStory>();
  for (const address of accepted.recipients) {
    const key = keyOf(address);
    if (!recipients.has(key))
      recipients.set(key, { address, domain: domainOf(address), state: 'queued', attempts: 0 });
  }
  const attempts: AttemptStory[] = [];
  const feedback: FeedbackStory[] = [];
  for (const event of events) {
    if (!isMessageEvent(event) || event.messageId !== id) continue;
    if (event.type === 'attempt') {
      attempts.push(attemptStory(event));
      for (const result of event.results) {
        const recipient = recipients.get(keyOf(result.address));
        if (!recipient) continue;
        recipient.attempts++;
        if (recipient.state === 'queued' || recipient.state === 'deferred') recipient.reply = result.reply;
      }
    } else if (event.type === 'bounce_received' || event.type === 'complaint_received') {
      const { tenant: _tenant, messageId: _id, ...rest } = event;
      feedback.push(rest);
    } else if (event.type !== 'accepted') {
      const recipient = recipients.get(keyOf(event.recipient));
      if (recipient) applyOutcome(recipient, event as RecipientEvent);
    }
  }
  for (const [key, recipient] of recipients) {
    if (TERMINAL.has(recipient.state)) continue;
    const job = jobs.get(key);
    const waiting = job ? waitingFor(recipient, job, accepted.tenant) : undefined;
    if (waiting) recipient.waiting = waiting;
  }
  return {
    id,
    tenant: accepted.tenant,
    from: accepted.from,
    acceptedAt: accepted.time,
    size: accepted.size,
    ...(accepted.stream ? { stream: accepted.stream } : {}),
    ...(accepted.campaign ? { campaign: accepted.campaign } : {}),
    source: accepted.source,
    ...(accepted.client ? { client: accepted.client } : {}),
    recipients: [...recipients.values()],
    attempts,
    feedback,
    truncated,
  };
}

type MessageEvent = AcceptedEvent | AttemptEvent | RecipientEvent | FeedbackEvent;

const MESSAGE_EVENT_TYPES = new Set<string>([
  'accepted',
  'attempt',
  'deferred',
  'delivered',
  'bounced',
  'expired',
  'suppressed',
  'bounce_received',
  'complaint_received',
]);

function isMessageEvent(event: HeraldEvent): event is MessageEvent {
  return MESSAGE_EVENT_TYPES.has(event.type);
}

/** A recipient's outcome event: a terminal one is final, a deferral holds until the next. */
function applyOutcome(recipient: RecipientStory, event: RecipientEvent): void {
  if (TERMINAL.has(recipient.state)) return;
  recipient.state = event.type;
  recipient.reply = event.reply;
  recipient.at = event.time;
  if (event.type === 'deferred') {
    if (event.nextAttemptAt !== undefined) recipient.nextAttemptAt = event.nextAttemptAt;
    if (event.retryClass) recipient.retryClass = event.retryClass;
  } else {
    delete recipient.nextAttemptAt;
    delete recipient.retryClass;
  }
}

function attemptStory(event: AttemptEvent): AttemptStory {
  return {
    time: event.time,
    domain: event.domain,
    attempt: event.attempt,
    ...(event.host ? { host: event.host } : {}),
    results: event.results,
    hostErrors: event.hostErrors,
    durationMs: event.durationMs,
    ...(event.mtaStsProblems ? { mtaStsProblems: event.mtaStsProblems } : {}),
    ...(event.dane ? { dane: event.dane } : {}),
  };
}

/**
 * Why a recipient not finished waits, from its job: delivering now (`in flight`), due now and
 * waiting for a worker (`ready`), or scheduled — held by shaping (the job data's `delayed`: a site
 * suspension, a tenant pause, a connection slot, a rate) or backing off after a deferral (`retry
 * backoff (<class>)` until its next attempt). A site suspended now says so with its live end,
 * whatever put the job on hold. Undefined when the job is gone or in no waiting state.
 */
export function waitingFor(recipient: RecipientStory, job: JobView, tenant: string): Waiting | undefined {
  switch (job.state) {
    case 'active':
      return { reason: 'in flight' };
    case 'waiting':
    case 'prioritized':
      return { reason: 'ready' };
    case 'failed':
      return { reason: 'failed (a worker crashed on it repeatedly; see the relay log)' };
    case 'delayed':
      break;
    default:
      return undefined;
  }
  const suspended = job.siteSuspendedUntil !== undefined && job.site !== undefined;
  const held = job.held;
  if (held?.parkOn !== undefined && held.parkOn === tenantParkKey(tenant))
    return { reason: `tenant ${tenant} paused` };
  if (suspended || (held?.parkOn !== undefined && job.site && held.parkOn === siteHoldKey(job.site)))
    return withUntil(`site ${job.site} suspended`, job.siteSuspendedUntil ?? held?.until);
  if (held?.parkOn !== undefined)
    return { reason: `waiting for a connection slot (${held.parkOn})`, until: held.until };
  if (held) {
    const rate = /^max_message_rate (.+)$/.exec(held.reason);
    return { reason: rate ? `rate limit (${rate[1]})` : held.reason, until: held.until };
  }
  const why = recipient.retryClass ? `retry backoff (${recipient.retryClass})` : 'retry backoff';
  return withUntil(why, recipient.nextAttemptAt);
}

const withUntil = (reason: string, until: number | undefined): Waiting =>
  until === undefined ? { reason } : { reason, until };
